package main

import (
	"os"
	"syscall"
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
