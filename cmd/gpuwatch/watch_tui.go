package main

import (
	"context"
	"fmt"
	"runtime"
	"syscall"

	"github.com/gdamore/tcell/v2"

	"github.com/gpuwatch/gpuwatch/internal/live"
	"github.com/gpuwatch/gpuwatch/internal/tui"
)

// tuiOptions is what watch passes to the TUI.
type tuiOptions struct {
	// Expect is the expected share (0: none), ExpectText as the user wrote it.
	Expect     float64
	ExpectText string
	// Note is shown in the header (tui.Options.Note).
	Note string
}

// runTUI shows r on the terminal until the user quits (then it calls
// cancel) or ctx ends. The terminal is restored before it returns, on
// every path.
func runTUI(ctx context.Context, cancel context.CancelFunc, r *live.Runner, o tuiOptions) error {
	screen, err := tcell.NewScreen()
	if err != nil {
		return fmt.Errorf("opening the terminal: %w", err)
	}
	if err := screen.Init(); err != nil {
		return fmt.Errorf("initialising the terminal: %w", err)
	}
	defer screen.Fini()
	app := tui.New(screen, r, tui.Options{Expect: o.Expect, ExpectText: o.ExpectText, Suspend: stopSelf, Note: o.Note})
	stop := context.AfterFunc(ctx, app.Stop)
	defer stop()
	err = app.Run()
	cancel()
	return err
}

// stopSelf stops the process as the terminal's Ctrl-Z would (the TUI reads
// keys in raw mode, so the kernel does not send SIGTSTP itself) and returns
// once the shell continues it (fg). The signal goes to this very thread, so
// the stop happens before tgkill returns: a signal to the process could be
// taken by another thread a moment later, after the TUI had already taken
// the terminal back, and the shell would then leave the terminal cooked.
// Where SIGTSTP is discarded (an orphaned process group) it returns at once.
func stopSelf() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	syscall.Tgkill(syscall.Getpid(), syscall.Gettid(), syscall.SIGTSTP)
}
