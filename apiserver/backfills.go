package apiserver

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/logetl/logetl/apiserver/forms"
)

// BackfillStarter starts a backfill of a table's export over [from, to) at a granularity
// ("daily" or "weekly"). The real one runs a Temporal workflow; the API only validates and
// delegates.
type BackfillStarter interface {
	StartBackfill(ctx context.Context, req BackfillRequest) (BackfillRun, error)
}

// BackfillRequest is a validated POST /admin/backfills body.
type BackfillRequest struct {
	Table       string // lake name; empty: the only table
	From, To    time.Time
	Granularity string
}

// BackfillRun identifies a started backfill: its workflow, run and Temporal UI link.
type BackfillRun struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	UIURL      string `json:"ui_url"`
}

// ErrInvalidBackfill is what a BackfillStarter wraps when it refuses the request itself (e.g. a
// range not aligned to the export grid): the API answers 400 with the error's text, e.g.
// fmt.Errorf("%w: from must be aligned to 15m", apiserver.ErrInvalidBackfill).
var ErrInvalidBackfill = errors.New("invalid backfill")

// startBackfill: POST /admin/backfills, admins only; 202 with the run's ids.
func (s *Server) startBackfill(c *gin.Context) {
	admin, ok := s.requireAdmin(c)
	if !ok {
		return
	}
	if s.backfills == nil {
		detail(c, http.StatusServiceUnavailable, "backfills are not configured")
		return
	}
	body, err := s.jsonBody(c)
	if err != nil {
		s.fail(c, err, "start backfill")
		return
	}
	in, err := forms.DecodeBackfill(body, time.Now())
	if err != nil {
		s.fail(c, err, "start backfill")
		return
	}
	run, err := s.backfills.StartBackfill(c.Request.Context(), BackfillRequest{Table: in.Table, From: in.From, To: in.To, Granularity: in.Granularity})
	switch {
	case errors.Is(err, ErrInvalidBackfill):
		s.fail(c, forms.Errors{forms.NonFieldErrors: {err.Error()}}, "start backfill")
		return
	case err != nil:
		// Only admins get here; the reason (e.g. Temporal unreachable) is what they need to act.
		s.log.WarnContext(c.Request.Context(), "backfill not started", "request_id", c.GetString(requestIDKey), "err", err)
		detail(c, http.StatusServiceUnavailable, "The backfill could not be started: "+err.Error())
		return
	}
	s.log.InfoContext(c.Request.Context(), "backfill started", "request_id", c.GetString(requestIDKey), "admin_user_id", admin.ID,
		"table", in.Table, "from", in.From, "to", in.To, "granularity", in.Granularity, "workflow_id", run.WorkflowID, "run_id", run.RunID)
	c.JSON(http.StatusAccepted, run)
}
