package main

import (
	"context"
	"errors"

	"github.com/gpuwatch/gpuwatch/internal/live"
)

// tuiOptions is what watch passes to the TUI.
type tuiOptions struct {
	// Expect is the expected share (0: none), ExpectText as the user wrote it.
	Expect     float64
	ExpectText string
}

// runTUI shows r on the terminal until the user quits (then it calls
// cancel) or ctx ends.
func runTUI(ctx context.Context, cancel context.CancelFunc, r *live.Runner, o tuiOptions) error {
	return errors.New("the TUI is not available yet: use --json")
}
