package accuracy

import (
	"bytes"
	"fmt"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/reporttext"
	"github.com/gpuwatch/gpuwatch/internal/simulate"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// Evaluate runs sc end to end as a user's trace would go: simulate, write
// `trace-cmd report` text in sc's format (in memory), read it back with
// reporttext.Reader, analyse it with a fresh gaps engine, and score the
// snapshot against the truth.
func Evaluate(sc simulate.Scenario) (Result, error) {
	var buf bytes.Buffer
	tr, err := simulate.WriteReport(&buf, sc, "", nil)
	if err != nil {
		return Result{}, fmt.Errorf("simulating %s: %w", sc.Name, err)
	}
	rd := reporttext.NewReader(bytes.NewReader(buf.Bytes()), sc.Name+".report")
	eng := gaps.New(gaps.Config{})
	if err := event.Drain(rd, eng.Feed); err != nil {
		return Result{}, fmt.Errorf("reading %s: %w", sc.Name, err)
	}
	res := Score(&tr, eng.Snapshot())
	res.Scenario = sc.Name
	res.Class = Class(sc)
	res.Format = FormatName(sc.Gen, sc.Nanoseconds)
	res.Warnings = len(rd.Warnings())
	return res, nil
}

// FormatName is "4.16 us", "6.17 ns", ...
func FormatName(g tracepoint.Generation, ns bool) string {
	if ns {
		return g.String() + " ns"
	}
	return g.String() + " us"
}
