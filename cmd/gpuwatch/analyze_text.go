package main

import (
	"errors"
	"io"
	"runtime"

	"github.com/gpuwatch/gpuwatch/internal/tracefs"
)

func isNotReport(err error) bool { return errors.Is(err, tracefs.ErrNotReport) }

// textFormat names text input in reports.
const textFormat = "trace-cmd report"

// openText reads trace-cmd report text (or tracefs trace / trace_pipe
// text) on every CPU, up to a few (TextReader.Parallel): the reader's
// goroutines parse blocks of lines and, drained (event.DrainBatches),
// feed each block's events to the engine in turn. Close the reader when
// done.
func openText(r io.Reader, name string) (*tracefs.TextReader, func() inputStats) {
	t := tracefs.NewTextReader(r, name)
	if n := runtime.GOMAXPROCS(0); n > 1 {
		t.Parallel(n)
	}
	return t, func() inputStats {
		s := t.Stats()
		ws := t.Warnings()
		st := inputStats{
			Format:    textFormat,
			Lines:     uint64(s.Lines),
			Events:    uint64(s.Events),
			Lost:      uint64(s.Lost),
			Unknown:   uint64(s.Unknown),
			Malformed: uint64(s.Malformed),
		}
		for _, w := range ws {
			st.Warnings = append(st.Warnings, w.Error())
		}
		// The reader keeps the first warnings; Malformed counts them all.
		st.WarningsTotal = max(uint64(len(ws)), st.Malformed)
		return st
	}
}
