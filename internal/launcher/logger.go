package launcher

import (
	"context"
	"log/slog"

	sdklog "go.temporal.io/sdk/log"
)

// sdkLogger routes the SDK client's logs through slog at warning level and above: its info
// lines (every dial) are noise in CLI output.
func sdkLogger() sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(levelFloor{slog.Default().Handler(), slog.LevelWarn}))
}

type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}
