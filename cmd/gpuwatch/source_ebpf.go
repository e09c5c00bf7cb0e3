package main

import (
	"errors"
	"fmt"

	"github.com/gpuwatch/gpuwatch/internal/ebpfsrc"
	"github.com/gpuwatch/gpuwatch/internal/event"
)

// ebpfEvents, when set, replaces the scheduler tracepoints the eBPF source
// attaches to (tests map a tracepoint they can fire onto scheduler events).
var ebpfEvents []ebpfsrc.Mapping

// openEBPF opens the eBPF source on the scheduler tracepoints found under
// the tracefs root ("" discovers it). close detaches and frees everything.
func openEBPF(tracefsRoot string) (src event.Source, close func() error, err error) {
	s, err := ebpfsrc.Open(ebpfsrc.Options{TracefsRoot: tracefsRoot, Events: ebpfEvents})
	if err != nil {
		if errors.Is(err, ebpfsrc.ErrUnavailable) || errors.Is(err, ebpfsrc.ErrNoEvents) {
			// No privilege, no kernel support, no scheduler
			// tracepoints: the cause reads as it is (auto mode falls
			// back to tracefs).
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("opening eBPF source: %w", err)
	}
	return s, s.Close, nil
}
