/*
 * handle.h - the socket handle table and the readiness-event list.
 *
 * One table serves every socket kind (UDP sockets live in stack/udp, TCP
 * sockets in stack/tcp); each layer names its kind in its own header. A
 * slot holds a generation, a kind and a pointer to the layer's object; a
 * us_sock_t carries (generation << 20 | index + 1), so a handle kept after
 * its slot was freed and reused fails the generation check. 20 index bits
 * allow about a million sockets (--max-conns); the generation has the 12
 * bits left. Layers mark a slot when its readiness may have changed; the
 * application drains the marked slots with us_stack_events().
 */
#ifndef USTACK_CORE_HANDLE_H
#define USTACK_CORE_HANDLE_H

#include <stdbool.h>
#include <stdint.h>

#include "ustack/us_types.h"

struct us_stack;

/* A slot's kind: 0 is a free slot; 1..US_HK_NKINDS-1 are socket kinds,
 * each named by the layer whose sockets it holds (US_HK_UDP in udp/udp.h,
 * US_HK_TCP in tcp/tcp.h), so the core names no layer above it. */
#define US_HK_FREE   0
#define US_HK_NKINDS 4

/* Each kind tells the table how to compute its current readiness. */
typedef uint32_t (*us_handle_events_fn)(struct us_stack *s, void *obj);
/* ... and its sticky error (0 or a us_err), for us_sock_error(). */
typedef int (*us_handle_error_fn)(struct us_stack *s, void *obj);

#define US_HANDLE_IDX_BITS 20
#define US_HANDLE_MAX      ((1u << US_HANDLE_IDX_BITS) - 1u)
#define US_HANDLE_GEN_MASK ((1u << (32 - US_HANDLE_IDX_BITS)) - 1u)

struct us_handle_slot {
  uint16_t gen; /* 1..US_HANDLE_GEN_MASK */
  uint8_t kind;
  bool marked; /* on the event list */
  void *obj;
  void *user;
};

struct us_handle_table {
  struct us_handle_slot *slots;
  uint32_t count;
  uint32_t *free_stack; /* indices of freed slots (nstack of them) */
  uint32_t nstack;
  uint32_t nfresh;  /* slots[nfresh..count) were never used */
  uint32_t nfree;   /* free slots in all: nstack + count - nfresh */
  uint32_t *marked; /* FIFO of marked slot indices */
  uint32_t nmarked;
  us_handle_events_fn events_fn[US_HK_NKINDS];
  us_handle_error_fn error_fn[US_HK_NKINDS];
};

int us_handle_table_init(struct us_handle_table *t, uint32_t count);
void us_handle_table_fini(struct us_handle_table *t);

/* A new handle for `obj`; US_SOCK_INVALID when the table is full. */
us_sock_t us_handle_alloc(struct us_stack *s, uint8_t kind, void *obj);
/* Free the slot; the handle (and any copy of it) becomes stale. */
void us_handle_free(struct us_stack *s, us_sock_t h);
/* The object behind `h` if it is live and of `kind`, else NULL. */
void *us_handle_get(struct us_stack *s, us_sock_t h, uint8_t kind);
/* The slot behind `h` of any kind, or NULL. */
struct us_handle_slot *us_handle_slot(struct us_stack *s, us_sock_t h);
/* The handle value of slot `index` in generation `gen`. */
static inline us_sock_t us_handle_make(uint32_t index, uint16_t gen) {
  return (us_sock_t){ (uint32_t)gen << US_HANDLE_IDX_BITS | (index + 1) };
}
static inline uint32_t us_handle_index1(us_sock_t h) { return h.v & US_HANDLE_MAX; }

/* Put `h` on the event list (once). Stale handles are ignored. */
void us_handle_mark(struct us_stack *s, us_sock_t h);

#endif
