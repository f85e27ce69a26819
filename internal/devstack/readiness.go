package devstack

import (
	"context"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// WorkerPolling answers nil when a worker has polled the workflow task queue since `since`,
// which tells a running worker from one that only connected.
func WorkerPolling(ctx context.Context, c client.Client, taskQueue string, since time.Time) error {
	resp, err := c.DescribeTaskQueue(ctx, taskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
	if err != nil {
		return fmt.Errorf("describe task queue %s: %w", taskQueue, err)
	}
	for _, p := range resp.GetPollers() {
		// Server and supervisor clocks are the same machine's here; allow a little slack.
		if p.GetLastAccessTime().AsTime().After(since.Add(-time.Second)) {
			return nil
		}
	}
	return fmt.Errorf("no worker polls task queue %s yet", taskQueue)
}

// gapMarkers are the messages of the worker's start-up check of the lake (reportGaps in
// cmd/logetl/worker.go): rows of MySQL the lake never exported, their backfill, or a table the
// check could not read.
var gapMarkers = []string{"the lake has never exported", "cannot check the lake for gaps"}

// gapLine is the worker's Console filter: its start-up gap lines go on the status terminal,
// without the log's time stamp.
func gapLine(line string) (string, bool) {
	for _, m := range gapMarkers {
		if strings.Contains(line, m) {
			if strings.HasPrefix(line, "time=") {
				if _, rest, ok := strings.Cut(line, " "); ok {
					line = rest
				}
			}
			return line, true
		}
	}
	return "", false
}
