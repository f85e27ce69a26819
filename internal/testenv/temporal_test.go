//go:build integration

package testenv

import (
	"context"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
)

func TestStartTemporalServesTheNamespaceWithLogetlSearchAttributes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := StartTemporal(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	c, err := srv.Dial()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: srv.Namespace})
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]enumspb.IndexedValueType{
		"LogetlWindowStart": enumspb.INDEXED_VALUE_TYPE_DATETIME,
		"LogetlGranularity": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
	for name, typ := range want {
		if got, ok := resp.CustomAttributes[name]; !ok || got != typ {
			t.Errorf("search attribute %s = %v (present %v), want %v", name, got, ok, typ)
		}
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Dial(); err == nil {
		t.Fatal("server still answers after Stop")
	}
}
