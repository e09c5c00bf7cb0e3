package simulate

import (
	"bytes"
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

// Events simulates sc and returns its events as a reader of its trace gets
// them, and the truth: WriteReport's text read back through
// reporttext.Reader. The events carry what sc.Gen's tracepoints carry
// (no run events before 4.16; jobs named by fence address up to 6.16, by
// context:seqno from 6.17; the tracepoints' names), with times rounded to
// the microsecond unless sc.Nanoseconds. It is for feeding an engine in
// memory, as tests do; the whole trace is held in memory.
func Events(sc Scenario) ([]event.Event, Truth, error) {
	var buf bytes.Buffer
	tr, err := WriteReport(&buf, sc, "", nil)
	if err != nil {
		return nil, tr, err
	}
	name := sc.Name
	if name == "" {
		name = "simulated"
	}
	rd := reporttext.NewReader(&buf, name+".report")
	evs := make([]event.Event, 0, tr.Events)
	if err := event.Drain(rd, func(ev event.Event) { evs = append(evs, ev) }); err != nil {
		return nil, tr, fmt.Errorf("reading back %s: %w", name, err)
	}
	if w := rd.Warnings(); len(w) > 0 {
		return nil, tr, fmt.Errorf("reading back %s: %d malformed lines, first: %v", name, rd.Stats().Malformed, w[0])
	}
	return evs, tr, nil
}
