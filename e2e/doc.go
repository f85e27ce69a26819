// Package e2e runs logetl end to end against real services: a Temporal dev server, MariaDB,
// versitygw, the API served in-process and the worker in-process. Nothing is mocked.
//
// Its test builds only with -tags integration (`make test`).
package e2e
