/*
 * test_tcp_state.c - an illegal state transition (a bug in our own code,
 * never something a peer can cause) is refused and counted in
 * tcp_illegal_transitions. A debug build (the ASan/UBSan unit build) then
 * aborts so the bug is found; a release build (NDEBUG) survives it and the
 * counter says it happened (core/assert.h, US_BUG).
 *
 * The transition is made in a forked child, so one test checks whichever
 * behaviour this build was compiled for: SIGABRT in debug, and in release a
 * child that finds the counter at 1, the state unchanged and the connection
 * still able to send.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/handle.h"
#include "tcp/tcp_int.h"
#include "tcp_harness.h"

/* Runs in the child: 0 when the release contract held, else which check failed. */
static int illegal_transition_child(struct th *h, us_time_t t) {
  struct us_tcb *tcb = us_handle_get(h->s, h->c->sock, US_HK_TCP);
  if (!tcb)
    return 10;
  /* ESTABLISHED -> LISTEN is in no row of RFC 9293's state diagram. */
  tcp_set_state(h->s, tcb, US_TCP_LISTEN, "test: illegal on purpose");
  if (us_stack_stat(h->s, US_STAT_tcp_illegal_transitions) != 1)
    return 11;
  if (th_state(h) != US_TCP_ESTABLISHED)
    return 12;
  if (th_send(h, t, 100) != 100)
    return 13;
  return 0;
}

static void test_illegal_transition(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_illegal_transitions), 0);

  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(illegal_transition_child(h, t)); /* no cleanup: the parent owns h */
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (US_BUG_ABORTS) {
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
  } else {
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
  }
  /* The parent's stack never saw the transition. */
  assert_int_equal(th_stat(h, US_STAT_tcp_illegal_transitions), 0);
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_illegal_transition, th_teardown),
  };
  return H_RUN("tcp_state", tests);
}
