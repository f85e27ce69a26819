// Package faults proves, with real processes and injected faults, what a log pipeline must
// promise: nothing lost, nothing duplicated, nothing leaked. Its tests build the logetl binary,
// run `logetl api` and `logetl worker` as child processes against a Temporal dev server,
// MariaDB and versitygw, then kill, stop and restart those parts while the schedule, backfills
// and the API are busy, and end each fault by comparing S3 with MySQL row by row.
//
// The tests restart the machine's MariaDB, which would break the packages that `go test ./...`
// runs next to this one, so they build only with -tags faults, which `make test-faults` sets; see
// docs/reliability.md.
package faults
