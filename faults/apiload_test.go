//go:build faults

package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// The load's client identity. Requests leave from a loopback address of their own, so the
// security check can look for this client IP (and user agent) in every log line and object.
const (
	probeIP        = "127.13.37.42"
	probeUserAgent = "logetl-faults-probe/1.0 (ua-5c1d7e)"
	probeEmail     = "fault.probe.7f3a@example.org"
	probePassword  = "probe-password-9b2e41"
	// A failed login writes the attempted email to the activity log; it must leave MySQL only
	// encrypted.
	probeFailedEmail = "failed.login.probe.e91c@example.org"
)

// probeClient returns an HTTP client whose connections come from probeIP.
func probeClient() *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(probeIP)}, Timeout: 5 * time.Second}
	return &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 16},
	}
}

// call sends one JSON request as the probe client and decodes a 2xx answer into out.
func (st *stack) call(ctx context.Context, hc *http.Client, method, path, token, requestID string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, st.apiURL+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", probeUserAgent)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if requestID != "" {
		req.Header.Set("X-Request-ID", requestID)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 && out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// probeUser signs up the probe account, makes one failed login, and logs in.
func (st *stack) probeUser(ctx context.Context, hc *http.Client) (userID uint64, token string, err error) {
	var u struct {
		ID uint64 `json:"id"`
	}
	code, err := st.call(ctx, hc, http.MethodPost, "/user/signup/", "", "", map[string]string{
		"email": probeEmail, "nickname": "faultprobe", "gender": "F", "password": probePassword, "password2": probePassword,
		"name": "장애 시험", "birth_date": "1990-05-17",
	}, &u)
	if err != nil || code != http.StatusCreated {
		return 0, "", fmt.Errorf("probe signup: %d %v", code, err)
	}
	code, err = st.call(ctx, hc, http.MethodPost, "/user/login/", "", "", map[string]string{"email": probeFailedEmail, "password": "wrong-password-1"}, nil)
	if err != nil || code != http.StatusUnauthorized {
		return 0, "", fmt.Errorf("probe failed login: %d %v, want 401", code, err)
	}
	var login struct {
		Token struct {
			Access string `json:"access"`
		} `json:"token"`
	}
	code, err = st.call(ctx, hc, http.MethodPost, "/user/login/", "", "", map[string]string{"email": probeEmail, "password": probePassword}, &login)
	if err != nil || code != http.StatusOK || login.Token.Access == "" {
		return 0, "", fmt.Errorf("probe login: %d %v", code, err)
	}
	return u.ID, login.Token.Access, nil
}

// answer is one create request of the load and what the API said.
type answer struct {
	RequestID string
	Sent      time.Time
	Status    int // 0: no HTTP answer
	Err       string
	PostID    uint64
}

// apiLoad sends a fixed number of POST /blog/create/ from a few workers at a fixed pace: a
// bounded loopback load, so the outage is seen by many requests without flooding the machine.
func (st *stack) apiLoad(ctx context.Context, hc *http.Client, token string, workers, perWorker int, pace time.Duration) []answer {
	out := make([]answer, workers*perWorker)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				n := w*perWorker + i
				a := answer{RequestID: fmt.Sprintf("faults-load-%04d", n), Sent: time.Now()}
				var post struct {
					ID uint64 `json:"id"`
				}
				code, err := st.call(ctx, hc, http.MethodPost, "/blog/create/", token, a.RequestID,
					map[string]string{"title": fmt.Sprintf("장애 중 글 %d", n), "body": "written while MariaDB restarts"}, &post)
				a.Status, a.PostID = code, post.ID
				if err != nil {
					a.Err = err.Error()
				}
				out[n] = a
				select {
				case <-ctx.Done():
					return
				case <-time.After(pace):
				}
			}
		}()
	}
	wg.Wait()
	return out
}
