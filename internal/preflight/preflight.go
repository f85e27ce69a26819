// Package preflight checks, before a worker starts and on demand (`logetl doctor`), everything
// the pipeline needs from the outside: Temporal reachable with the namespace and logetl's search
// attributes (registered where the server allows it), the bucket writable under the prefix, the
// keyring with its active keys, and for every table MySQL reachable with the grants its role
// needs, the table matching its spec and its window index. Each check is a line: ok, or FAIL
// with the exact fix. Nothing here waits without a bound.
package preflight

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/logetl/logetl/internal/logtable"
	"github.com/logetl/logetl/internal/pipeline"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/workflows"
)

// Check is one line of the preflight.
type Check struct {
	Name   string // e.g. "temporal", "s3", "mysql activity_log"
	OK     bool
	Detail string // what was found
	Fix    string // on failure: what to do
}

// String renders the check as its line.
func (c Check) String() string {
	if c.OK {
		return fmt.Sprintf("ok    %-22s %s", c.Name, c.Detail)
	}
	s := fmt.Sprintf("FAIL  %-22s %s", c.Name, c.Detail)
	if c.Fix != "" {
		s += "; fix: " + c.Fix
	}
	return s
}

// Failed tells whether any check failed.
func Failed(cs []Check) bool {
	for _, c := range cs {
		if !c.OK {
			return true
		}
	}
	return false
}

// Timeout bounds every check: a server that does not answer fails its check, it does not hang
// the start.
const Timeout = 10 * time.Second

// Temporal is what the Temporal checks need of a client (client.Client provides both).
type Temporal interface {
	WorkflowService() workflowservice.WorkflowServiceClient
	OperatorService() operatorservice.OperatorServiceClient
}

// TemporalChecks checks the namespace and the search attributes; with register, missing
// attributes are registered when the server allows it (the dev server, a self-hosted cluster
// with operator rights), otherwise the fix is the command that registers them.
func TemporalChecks(ctx context.Context, c Temporal, address, namespace string, register bool) []Check {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	out := []Check{}
	if _, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace}); err != nil {
		var nf *serviceerror.NamespaceNotFound
		fix := fmt.Sprintf("check --temporal-address (LOGETL_TEMPORAL_ADDRESS, TEMPORAL_ADDRESS) and that the server runs: temporal operator cluster health --address %s", address)
		if errors.As(err, &nf) {
			fix = fmt.Sprintf("create it (temporal operator namespace create --namespace %s) or set --temporal-namespace", namespace)
		}
		return append(out, Check{Name: "temporal", Detail: fmt.Sprintf("namespace %q at %s: %v", namespace, address, firstLine(err)), Fix: fix})
	}
	out = append(out, Check{Name: "temporal", OK: true, Detail: fmt.Sprintf("namespace %s at %s", namespace, address)})
	out = append(out, searchAttributes(ctx, c, namespace, register))
	return out
}

var saTypes = map[string]enumspb.IndexedValueType{
	"Datetime": enumspb.INDEXED_VALUE_TYPE_DATETIME,
	"Keyword":  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

func searchAttributes(ctx context.Context, c Temporal, namespace string, register bool) Check {
	ck := Check{Name: "search attributes"}
	list, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		ck.Detail = "cannot list them: " + firstLine(err)
		ck.Fix = createCommand(namespace, workflows.SearchAttributes)
		return ck
	}
	var missing []workflows.SearchAttribute
	var wrong []string
	for _, sa := range workflows.SearchAttributes {
		have, ok := list.GetCustomAttributes()[sa.Name]
		switch {
		case !ok:
			missing = append(missing, sa)
		case have != saTypes[sa.Type]:
			wrong = append(wrong, fmt.Sprintf("%s is %s, logetl needs %s", sa.Name, strings.TrimPrefix(have.String(), "INDEXED_VALUE_TYPE_"), sa.Type))
		}
	}
	if len(wrong) > 0 {
		ck.Detail = strings.Join(wrong, "; ")
		ck.Fix = "a search attribute's type cannot change: remove it (temporal operator search-attribute remove) and create it with the right type, or use another namespace"
		return ck
	}
	if len(missing) == 0 {
		ck.OK, ck.Detail = true, names(workflows.SearchAttributes)+" registered"
		return ck
	}
	if register {
		req := &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: map[string]enumspb.IndexedValueType{}}
		for _, sa := range missing {
			req.SearchAttributes[sa.Name] = saTypes[sa.Type]
		}
		if _, err := c.OperatorService().AddSearchAttributes(ctx, req); err == nil {
			ck.OK, ck.Detail = true, names(missing)+" registered now"
			return ck
		} else {
			ck.Detail = fmt.Sprintf("%s missing, and this server refused to register them (%s)", names(missing), firstLine(err))
		}
	} else {
		ck.Detail = names(missing) + " missing"
	}
	ck.Fix = createCommand(namespace, missing)
	return ck
}

func names(sas []workflows.SearchAttribute) string {
	var out []string
	for _, sa := range sas {
		out = append(out, sa.Name)
	}
	return strings.Join(out, ", ")
}

// createCommand is the CLI command that registers the attributes (an operator's, or Temporal
// Cloud's tcld for a cloud namespace).
func createCommand(namespace string, sas []workflows.SearchAttribute) string {
	var parts []string
	for _, sa := range sas {
		parts = append(parts, fmt.Sprintf("temporal operator search-attribute create --namespace %s --name %s --type %s", namespace, sa.Name, sa.Type))
	}
	return strings.Join(parts, " && ") + " (Temporal Cloud: tcld namespace search-attributes add)"
}

// Store is what the S3 checks need; *s3store.Store is one.
type Store interface {
	CheckBucket(ctx context.Context) error
	Probe(ctx context.Context, prefix string) error
	Bucket() string
}

// S3Check checks that the bucket exists and a probe object can be written and deleted under
// the prefix.
func S3Check(ctx context.Context, s Store, endpoint, prefix string) Check {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	ck := Check{Name: "s3"}
	where := fmt.Sprintf("bucket %s at %s", s.Bucket(), orAWS(endpoint))
	if err := s.CheckBucket(ctx); err != nil {
		ck.Detail = fmt.Sprintf("%s: %v", where, firstLine(err))
		switch {
		case errors.Is(err, s3store.ErrCredentials):
			ck.Fix = "give the worker credentials the server knows (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile or an instance role)"
		case s3store.IsPermanent(err):
			ck.Fix = fmt.Sprintf("create the bucket or set --s3-bucket (LOGETL_S3_BUCKET); check --s3-endpoint %s", orAWS(endpoint))
		default:
			ck.Fix = "check that the S3 endpoint answers (--s3-endpoint, LOGETL_S3_ENDPOINT)"
		}
		return ck
	}
	if err := s.Probe(ctx, prefix); err != nil {
		ck.Detail = fmt.Sprintf("%s: a probe object under %s/ could not be written and deleted: %v", where, prefix, firstLine(err))
		ck.Fix = "grant s3:PutObject and s3:DeleteObject on " + prefix + "/* (deploy/README.md has the policy)"
		return ck
	}
	ck.OK, ck.Detail = true, where+", writable under "+prefix+"/"
	return ck
}

func orAWS(endpoint string) string {
	if endpoint == "" || endpoint == "aws" {
		return "AWS S3"
	}
	return endpoint
}

// KeyringCheck checks that the keyring loads and holds its active keys.
func KeyringCheck(path string) Check {
	ck := Check{Name: "keyring"}
	kr, err := protect.LoadKeyring(path)
	if err == nil {
		_, err = protect.NewProtector(kr)
	}
	if err != nil {
		ck.Detail = firstLine(err)
		ck.Fix = "point --keyring (LOGETL_KEYRING) at the keyring file, or create one with logetl keys generate --out " + path
		return ck
	}
	ck.OK, ck.Detail = true, fmt.Sprintf("%s: active HMAC key %s, AEAD key %s", path, kr.ActiveHMACKeyID(), kr.ActiveAEADKeyID())
	return ck
}

// TableChecks checks each table's MySQL side: reachable, the columns and window index its spec
// needs, and the grants of its role: SELECT to export, DELETE where it has a retention.
func TableChecks(ctx context.Context, p *pipeline.Pipeline) []Check {
	var out []Check
	for _, t := range p.Tables {
		out = append(out, tableCheck(ctx, t))
	}
	return out
}

func tableCheck(ctx context.Context, t *pipeline.Table) Check {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	ck := Check{Name: "mysql " + t.Name()}
	if err := t.DB.PingContext(ctx); err != nil {
		var me *mysql.MySQLError
		switch {
		case errors.As(err, &me) && me.Number == 1044:
			ck.Detail, ck.Fix = "the DSN's user may not use its database: "+firstLine(err), grantFix("SELECT", t)
		case errors.As(err, &me) && me.Number == 1045:
			ck.Detail, ck.Fix = "MySQL refused the DSN's user or password: "+firstLine(err), "check the user and password of --mysql-dsn (LOGETL_MYSQL_DSN) or the table's source"
		default:
			ck.Detail = "not reachable: " + firstLine(err)
			ck.Fix = "check --mysql-dsn (LOGETL_MYSQL_DSN) or the table's source, and that the server runs"
		}
		return ck
	}
	tbl, undeclared, err := logtable.Open(ctx, t.DB, t.Spec)
	if err != nil {
		ck.Detail, ck.Fix = firstLine(err), fixOf(err, t)
		return ck
	}
	// EXPLAIN needs the privileges of the statement it explains and runs nothing.
	where := fmt.Sprintf("%s >= '1970-01-01' AND 1 = 0", "`"+strings.ReplaceAll(t.Spec.TimeColumn, "`", "``")+"`")
	if _, err := t.DB.ExecContext(ctx, "EXPLAIN SELECT 1 FROM "+t.Spec.QuotedTable()+" WHERE "+where); err != nil {
		ck.Detail, ck.Fix = "no SELECT on "+t.Spec.MySQLTable+": "+firstLine(err), grantFix("SELECT", t)
		return ck
	}
	role := "SELECT"
	if t.Spec.Retention > 0 {
		role = "SELECT, DELETE"
		if _, err := t.DB.ExecContext(ctx, "EXPLAIN DELETE FROM "+t.Spec.QuotedTable()+" WHERE "+where); err != nil {
			ck.Detail, ck.Fix = fmt.Sprintf("retention %s needs DELETE on %s: %s", t.Spec.Retention, t.Spec.MySQLTable, firstLine(err)), grantFix("SELECT, DELETE", t)
			return ck
		}
	}
	ck.OK = true
	ck.Detail = fmt.Sprintf("%s: %d columns through index %s, grants %s", t.Spec.MySQLTable, len(t.Spec.Exported()), tbl.Index(), role)
	if len(undeclared) > 0 {
		ck.Detail += fmt.Sprintf("; %d columns not in the spec, never exported (%s)", len(undeclared), strings.Join(undeclared, ", "))
	}
	return ck
}

func grantFix(privs string, t *pipeline.Table) string {
	return fmt.Sprintf("GRANT %s ON %s TO the DSN's user", privs, t.Spec.QuotedTable())
}

func fixOf(err error, t *pipeline.Table) string {
	var me *mysql.MySQLError
	switch {
	case errors.As(err, &me) && (me.Number == 1142 || me.Number == 1044):
		return grantFix("SELECT", t)
	case errors.Is(err, logtable.ErrSchema):
		return "see the reason above; `logetl tables inspect " + t.Spec.MySQLTable + "` prints the table as it is"
	}
	return "check the table spec and the DSN's database"
}

// LayoutChecks compares each table's configuration with its lake's layout descriptor.
func LayoutChecks(ctx context.Context, p *pipeline.Pipeline) []Check {
	var out []Check
	for _, t := range p.Tables {
		ck := Check{Name: "layout " + t.Name()}
		cctx, cancel := context.WithTimeout(ctx, Timeout)
		err := t.Export.CheckLayout(cctx)
		cancel()
		if err != nil {
			ck.Detail, ck.Fix = firstLine(err), "run with the lake's window and time zone, or give the table a new name or prefix (docs/data-layout.md)"
		} else {
			g := t.Export.Grid()
			ck.OK, ck.Detail = true, fmt.Sprintf("%s windows in %s", g.Length(), g.Location())
		}
		out = append(out, ck)
	}
	return out
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
