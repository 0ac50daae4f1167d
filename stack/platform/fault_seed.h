/*
 * fault_seed.h - a seed for the fault injector from the OS, for the
 * daemon when the user gave no --fault-seed. The injector itself never
 * asks the OS for anything (stack/fault/fault.h); unit tests pass seeds.
 */
#ifndef USTACK_PLATFORM_FAULT_SEED_H
#define USTACK_PLATFORM_FAULT_SEED_H

#include <stdint.h>

/* A fresh seed from getrandom() (falls back to the monotonic clock). */
uint64_t us_fault_seed_from_os(void);

#endif
