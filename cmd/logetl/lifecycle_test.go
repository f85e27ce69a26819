//go:build integration

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/config"
)

// A week purged from MySQL and then stripped of its daily files by the lifecycle is still
// whole in the lake: verify passes on it, decrypt of a removed daily file names the weekly file,
// and the weekly file decrypts to every row.
func TestAfterPurgeAndLifecycleTheWeeklyFileIsTheRecord(t *testing.T) {
	e := newCLIEnv(t)
	day := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC) // Monday of 2026-W47
	const n = 40
	for i := 0; i < n; i++ {
		if _, err := e.db.DB.Exec(`INSERT INTO activity_log (occurred_at, request_id, action, method, route, path, status, client_ip, user_agent, message)
VALUES (?, 'r', 'post.view', 'GET', '/blog/:id/', '/blog/1/', 200, '192.0.2.9', 'ua', 'm')`, day.Add(time.Duration(i)*4*time.Hour+time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	from, to := "2026-11-16T00:00:00Z", "2026-11-23T00:00:00Z"
	for _, g := range []string{"daily", "weekly"} {
		if out, err := e.export(from, to, g); err != nil {
			t.Fatalf("export %s: %v\n%s", g, err, out)
		}
	}
	var out bytes.Buffer
	purge := &purgeCmd{pipelineFlags: e.flags(), Before: to, stdout: &out}
	if err := purge.Run(context.Background()); err != nil {
		t.Fatalf("purge: %v\n%s", err, out.String())
	}
	run := func(c *lifecycleCmd) (string, error) {
		out.Reset()
		c.pipelineFlags, c.stdout = e.flags(), &out
		err := c.Run(context.Background())
		return out.String(), err
	}
	if got, err := run(&lifecycleCmd{}); err == nil || !strings.Contains(err.Error(), "--before") {
		t.Fatalf("without a retention or --before: %v\n%s", err, got)
	}
	if got, err := run(&lifecycleCmd{Before: to, DryRun: true}); err != nil || !strings.Contains(got, "would remove 40 ") {
		t.Fatalf("dry run: %v\n%s", err, got)
	}
	if got, err := run(&lifecycleCmd{Before: to}); err != nil || !strings.Contains(got, "removed 40 ") {
		t.Fatalf("lifecycle: %v\n%s", err, got)
	}
	if got, err := run(&lifecycleCmd{Before: to}); err != nil || !strings.Contains(got, "removed 0 ") || !strings.Contains(got, "1 weeks already done") {
		t.Fatalf("lifecycle again: %v\n%s", err, got)
	}
	if got, err := e.verify(from, to, false); err != nil || !strings.Contains(got, "purged") {
		t.Fatalf("verify after purge and lifecycle: %v\n%s", err, got)
	}

	keys := listKeys(t, e.srv, "")
	var weekly string
	for _, k := range keys {
		if strings.HasSuffix(k, "part-2026-W47.parquet") {
			weekly = k
		}
	}
	removed := "logs/activity_log/daily/dt=2026-11-16/part-20261116T0000Z-20261116T0015Z.parquet"
	dec := func(key string) (string, error) {
		var o bytes.Buffer
		c := &decryptCmd{DataDir: e.dataDir, Keyring: config.Keyring{KeyringPath: e.keyring}, S3: e.srv.Config(), Source: "s3://" + e.srv.Bucket + "/" + key, stdout: &o}
		err := c.Run(context.Background())
		return o.String(), err
	}
	if _, err := dec(removed); err == nil || !strings.Contains(err.Error(), "removed by the S3 lifecycle") || !strings.Contains(err.Error(), weekly) {
		t.Fatalf("decrypt of a removed daily file: %v (weekly %q, keys %v)", err, weekly, keys)
	}
	got, err := dec(weekly)
	if err != nil || strings.Count(got, "\n") != n {
		t.Fatalf("decrypt of the weekly file: %v, %d lines", err, strings.Count(got, "\n"))
	}
}
