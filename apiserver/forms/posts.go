package forms

import (
	"fmt"
	"strings"
	"time"
)

const maxTitle = 100

// PostInput is a validated post body. For PATCH a nil field is left unchanged; for POST and PUT
// both are set.
type PostInput struct {
	Title *string
	Body  *string
}

// DecodePost decodes a POST /blog/create/ or PUT /blog/{id}/ body (partial=false: title and body
// required) or a PATCH body (partial=true: each field optional). Text is kept verbatim: no
// trimming, no escaping, so SQL-looking or Korean text round-trips byte for byte.
func DecodePost(body []byte, partial bool) (PostInput, error) {
	o, err := parseObject(body)
	if err != nil {
		return PostInput{}, err
	}
	var p PostInput
	if v, ok := o.str("title", stringField{required: !partial, minLen: 1, maxLen: maxTitle}); ok {
		p.Title = &v
	}
	if v, ok := o.str("body", stringField{required: !partial}); ok {
		p.Body = &v
	}
	if err := o.errs.orNil(); err != nil {
		return PostInput{}, err
	}
	return p, nil
}

// Backfill granularities, as the export pipeline names them.
const (
	GranularityDaily  = "daily"
	GranularityWeekly = "weekly"
)

// Backfill is a validated POST /admin/backfills body.
type Backfill struct {
	Table       string
	From, To    time.Time
	Granularity string
}

// DecodeBackfill validates a backfill request: RFC 3339 bounds with 1970 <= from < to and to not
// after now. Alignment to the export grid is the starter's business.
func DecodeBackfill(body []byte, now time.Time) (Backfill, error) {
	o, err := parseObject(body)
	if err != nil {
		return Backfill{}, err
	}
	var b Backfill
	from, fromOK := o.datetime("from")
	to, toOK := o.datetime("to")
	b.Granularity, _ = o.choice("granularity", GranularityDaily, GranularityWeekly)
	b.Table, _ = o.str("table", stringField{maxLen: 63})
	if toOK && to.After(now) {
		o.errs.Add("to", "Ensure this value is not in the future.")
		toOK = false
	}
	if fromOK && toOK && !from.Before(to) {
		o.errs.Add(NonFieldErrors, "from must be before to.")
	}
	if err := o.errs.orNil(); err != nil {
		return Backfill{}, err
	}
	b.From, b.To = from.UTC(), to.UTC()
	return b, nil
}

// earliestBackfill bounds backfill ranges below: no activity predates the Unix epoch, and a
// year before 0 in UTC (e.g. "0000-01-01T00:00:00+01:00") cannot even be encoded as the JSON
// input of the backfill workflow, which would turn a bad request into a failed start.
var earliestBackfill = time.Unix(0, 0).UTC()

func (o *object) datetime(field string) (time.Time, bool) {
	raw, ok := o.str(field, stringField{required: true})
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(raw))
	if err != nil {
		o.errs.Add(field, fmt.Sprintf("Datetime has wrong format. Use RFC 3339, e.g. %s.", "2026-11-24T00:00:00Z"))
		return time.Time{}, false
	}
	if t.Before(earliestBackfill) {
		o.errs.Add(field, "Ensure this value is not before 1970-01-01T00:00:00Z.")
		return time.Time{}, false
	}
	return t, true
}
