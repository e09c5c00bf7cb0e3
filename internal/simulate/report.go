package simulate

import (
	"fmt"
	"io"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/reporttext"
)

// WriteReport simulates sc and writes its events to w as `trace-cmd
// report` text in sc.Gen's format (sc.Nanoseconds: 9 fraction digits),
// through reporttext.Writer. instance, if set, prefixes lines as a
// trace-cmd buffer instance does. stop, if not nil, is asked after each
// event whether to end the trace there (e.g. once enough bytes are out).
func WriteReport(w io.Writer, sc Scenario, instance string, stop func() bool) (Truth, error) {
	cpus := sc.CPUs
	if cpus == 0 {
		cpus = 4
	}
	tw := reporttext.NewWriter(w, reporttext.WriterOptions{Gen: sc.Gen, Nanoseconds: sc.Nanoseconds, Instance: instance, CPUs: cpus})
	tr, err := Run(sc, func(ev event.Event) error {
		if err := tw.Write(ev); err != nil {
			return fmt.Errorf("writing report: %w", err)
		}
		if stop != nil && stop() {
			return ErrStop
		}
		return nil
	})
	if err != nil {
		return tr, err
	}
	if err := tw.Flush(); err != nil {
		return tr, fmt.Errorf("writing report: %w", err)
	}
	return tr, nil
}
