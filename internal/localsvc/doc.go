// Package localsvc runs the local services of logetl's tools (the dev stack, the tests, the
// fault tests): it finds the helper binaries, picks free ports, starts and stops child
// processes (log capture, readiness wait, SIGTERM then SIGKILL, reaping), and knows how to run
// versitygw on a posix folder and the Temporal dev server. It is tool code: product packages
// never import it (internal/archtest checks that).
package localsvc
