package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestCheckPassesOnlyOn2xx(t *testing.T) {
	tests := []struct {
		status  int
		wantErr bool
	}{
		{http.StatusOK, false},
		{http.StatusNoContent, false},
		{http.StatusServiceUnavailable, true},
		{http.StatusNotFound, true},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(tt.status) }))
			defer srv.Close()
			if err := check(srv.URL+"/readyz", time.Second); (err != nil) != tt.wantErr {
				t.Errorf("check = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestCheckFailsWhenNothingListens(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	if err := check(url, time.Second); err == nil {
		t.Error("check succeeded against a closed port")
	}
}
