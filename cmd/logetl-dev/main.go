// Command logetl-dev runs the whole logetl stack on this machine for development (`make run`):
// it checks or starts MariaDB, starts the Temporal dev server and a versitygw S3 store,
// generates local secrets once, applies migrations, and supervises `logetl api` and `logetl
// worker` as child processes of the logetl binary (--logetl). It is a tool beside the product:
// the logetl binary does not contain it. Every flag is also an environment variable; see --help.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
)

func main() {
	var c devCmd
	kctx := kong.Parse(&c,
		kong.Name("logetl-dev"),
		kong.Description("Run the whole logetl stack locally (MariaDB, Temporal dev server, versitygw, logetl api and worker) until Ctrl-C; state stays in --data-dir for the next run. The worker runs with --backfill-gaps (LOGETL_BACKFILL_GAPS=true unless set)."),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kctx.BindTo(ctx, (*context.Context)(nil))
	if err := kctx.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "logetl-dev: %v\n", err)
		os.Exit(1)
	}
}
