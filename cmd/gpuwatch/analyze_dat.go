package main

import (
	"fmt"
	"os"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/tracedat"
	"github.com/gpuwatch/gpuwatch/internal/tracefs"
)

// datFormat names trace.dat input in reports.
const datFormat = "trace.dat"

// openTraceDat decodes a trace.dat file (f is positioned at its start; the
// caller closes it): versions 6 and 7, compressed or not, every buffer
// (instance), CPUs merged in time order.
func openTraceDat(f *os.File, name string) (event.Source, func() inputStats, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	file, err := tracedat.Open(f, fi.Size(), name)
	if err != nil {
		return nil, nil, err
	}
	src, err := tracefs.OpenDat(file)
	if err != nil {
		return nil, nil, err
	}
	return src, func() inputStats {
		s := src.Stats()
		st := inputStats{Format: datFormat, Events: s.Events, Lost: s.Lost, Unknown: s.Unknown}
		if s.LostUnknown > 0 {
			st.Warnings = append(st.Warnings, fmt.Sprintf("%s: %d ring-buffer pages report lost events without their number", name, s.LostUnknown))
			st.WarningsTotal = 1
		}
		return st
	}, nil
}
