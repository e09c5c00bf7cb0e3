package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// errNoTraceDat: trace.dat decoding is not wired into analyze yet.
var errNoTraceDat = errors.New("trace.dat decoding not available yet; convert it with 'trace-cmd report -i FILE > FILE.report' and analyse the text")

// openTraceDat decodes a trace.dat file (f is positioned at its start; the
// caller closes it).
func openTraceDat(f *os.File, name string) (event.Source, func() inputStats, error) {
	return nil, nil, fmt.Errorf("%s: %w", name, errNoTraceDat)
}
