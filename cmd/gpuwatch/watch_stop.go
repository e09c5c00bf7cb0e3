package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/live"
)

// stopSignals end watch cleanly: the source is drained and tracefs (or
// BPF) restored. SIGHUP is a closed terminal or ssh session, SIGQUIT a
// Ctrl-\; left to their defaults they would kill the process with its
// tracefs instance still recording.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// restoreOnPanic, deferred first in a goroutine of watch, restores the
// kernel's state (closeFn) before a panic in that goroutine ends the
// process, then lets the panic go on.
func restoreOnPanic(closeFn func()) {
	if p := recover(); p != nil {
		closeFn()
		panic(p)
	}
}

// warnFunc returns the reporter of a side problem of the run (a push
// failing, a recording stopped): it becomes the runner's warning key,
// shown in the TUI's status line and the JSON objects, and is written to
// stderr at once unless the TUI owns the terminal.
func warnFunc(r *live.Runner, key, cmd string, stderr io.Writer, tui bool) func(error) {
	return func(err error) {
		if err == nil {
			r.Warn(key, "")
			return
		}
		r.Warn(key, err.Error())
		if !tui {
			fmt.Fprintf(stderr, "gpuwatch %s: %v\n", cmd, err)
		}
	}
}

// pushReportEvery is how often, at most, a failing push is reported on
// stderr.
const pushReportEvery = time.Minute

// pushReporter turns push results into the runner's "push" warning (set
// while pushes fail, with how many failed; cleared by a success) and,
// unless the TUI owns the terminal, lines on stderr: the first failure,
// then at most one per pushReportEvery, and a line when pushes recover.
func pushReporter(r *live.Runner, cmd string, stderr io.Writer, tui bool) func(error) {
	var mu sync.Mutex
	var failed, unsaid int
	var said time.Time
	return func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			if failed > 0 {
				r.Warn("push", "")
				if !tui {
					fmt.Fprintf(stderr, "gpuwatch %s: pushing metrics works again (%d pushes failed)\n", cmd, failed)
				}
			}
			failed, unsaid = 0, 0
			return
		}
		failed++
		unsaid++
		r.Warn("push", fmt.Sprintf("%v (%d pushes failed)", err, failed))
		if tui || (!said.IsZero() && time.Since(said) < pushReportEvery && failed > 1) {
			return
		}
		if unsaid > 1 {
			fmt.Fprintf(stderr, "gpuwatch %s: %v (%d more pushes failed)\n", cmd, err, unsaid-1)
		} else {
			fmt.Fprintf(stderr, "gpuwatch %s: %v\n", cmd, err)
		}
		said, unsaid = time.Now(), 0
	}
}
