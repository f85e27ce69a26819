package localsvc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/logetl/logetl/workflows"
)

// TemporalDev is a Temporal dev server (`temporal server start-dev`) with logetl's search
// attributes and dynamic config (workflows.StartDevFlags).
type TemporalDev struct {
	// Bin is the Temporal CLI; empty: FindTool.
	Bin string
	// IP and Port are the gRPC frontend's.
	IP   string
	Port int
	// UIPort 0 runs it headless.
	UIPort int
	// HTTPPort and MetricsPort 0 leave the CLI's defaults (tests want free ports for both).
	HTTPPort, MetricsPort int
	// DBFile keeps the store in SQLite; empty: in memory.
	DBFile string
	// Namespace other than "" and "default" is created at start.
	Namespace string
}

// Spec is the child that runs the server, in env (nil: the parent's).
func (t TemporalDev) Spec(env []string) (ChildSpec, error) {
	bin, err := FindTool(t.Bin, "temporal")
	if err != nil {
		return ChildSpec{}, err
	}
	args := []string{"server", "start-dev", "--ip", t.IP, "--port", strconv.Itoa(t.Port)}
	if t.UIPort == 0 {
		args = append(args, "--headless")
	} else {
		args = append(args, "--ui-port", strconv.Itoa(t.UIPort))
	}
	if t.HTTPPort != 0 {
		args = append(args, "--http-port", strconv.Itoa(t.HTTPPort))
	}
	if t.MetricsPort != 0 {
		args = append(args, "--metrics-port", strconv.Itoa(t.MetricsPort))
	}
	if t.DBFile != "" {
		args = append(args, "--db-filename", t.DBFile)
	}
	args = append(args, "--log-level", "warn")
	args = append(args, workflows.StartDevFlags()...)
	if t.Namespace != "" && t.Namespace != "default" {
		args = append(args, "--namespace", t.Namespace)
	}
	return ChildSpec{Path: bin, Args: args, Env: env}, nil
}

// QuietLogger keeps the Temporal SDK's connection chatter out of terminals and test output.
var QuietLogger = tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

// DialTemporal connects to the Temporal frontend at address with the quiet logger.
func DialTemporal(ctx context.Context, address, namespace string) (client.Client, error) {
	c, err := client.DialContext(ctx, client.Options{HostPort: address, Namespace: namespace, Logger: QuietLogger})
	if err != nil {
		return nil, fmt.Errorf("temporal at %s: %w", address, err)
	}
	return c, nil
}

// TemporalReady answers nil when the frontend at address passes its health check and serves
// namespace (the dev server registers it a moment after it starts answering).
func TemporalReady(ctx context.Context, address, namespace string) error {
	if err := PortOpen(ctx, address); err != nil {
		return err
	}
	c, err := DialTemporal(ctx, address, namespace)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("temporal health at %s: %w", address, err)
	}
	if namespace == "" {
		namespace = "default"
	}
	if _, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace}); err != nil {
		return fmt.Errorf("temporal namespace %s at %s: %w", namespace, address, err)
	}
	return nil
}
