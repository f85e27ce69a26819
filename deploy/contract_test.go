package deploy

import (
	"database/sql"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/worker"
)

// recorder is a prometheus.Registerer that keeps the metric names of what registers on it:
// Describe lists a vector's name even before it has a series, which Gather would not.
type recorder struct{ names []string }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names = append(r.names, m[1])
		}
	}
	return nil
}
func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}
func (r *recorder) Unregister(prometheus.Collector) bool { return false }

// The contract lists exactly the logetl_* metrics that the worker and the API register: a
// metric added to the code without its place in the rules and dashboard, or one the contract
// keeps after the code dropped it, fails here.
func TestTheMetricContractIsWhatTheWorkerAndTheAPIRegister(t *testing.T) {
	var rec recorder
	if _, err := worker.NewMetrics(&rec, []string{"activity_log"}, nil); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", "contract:test@tcp(127.0.0.1:1)/none") // never dialled
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reg := prometheus.NewRegistry()
	api, err := apiserver.New(apiserver.Options{DB: db, JWTSecret: []byte(strings.Repeat("k", 48)), Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	// One request gives the API's vectors their first series, so that Gather lists them.
	api.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/no-such-route", nil))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var apiNames []string
	for _, mf := range mfs {
		apiNames = append(apiNames, mf.GetName())
	}
	got := append(slices.Clone(rec.names), apiNames...)
	for _, n := range got {
		if _, ok := metricContract[n]; !ok && strings.HasPrefix(n, "logetl_") {
			t.Errorf("%s is registered but not in the contract (metricContract in monitoring_test.go)", n)
		}
	}
	for n := range metricContract {
		if !slices.Contains(got, n) {
			t.Errorf("the contract lists %s, which neither the worker nor the API registers", n)
		}
	}
}
