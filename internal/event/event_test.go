package event

import (
	"errors"
	"io"
	"slices"
	"testing"
)

// sliceSource hands out evs one at a time (Next) or two at a time
// (NextBatch), then err (io.EOF when nil).
type sliceSource struct {
	evs []Event
	err error
}

func (s *sliceSource) Next() (Event, error) {
	if len(s.evs) == 0 {
		if s.err == nil {
			return Event{}, io.EOF
		}
		return Event{}, s.err
	}
	ev := s.evs[0]
	s.evs = s.evs[1:]
	return ev, nil
}

type batchSource struct{ sliceSource }

func (s *batchSource) NextBatch() ([]Event, error) {
	if len(s.evs) == 0 {
		_, err := s.Next()
		return nil, err
	}
	n := min(2, len(s.evs))
	b := s.evs[:n]
	s.evs = s.evs[n:]
	return b, nil
}

// drainSource is a Drainer whose Drain marks the events it hands out, so
// the test can tell DrainBatches used it.
type drainSource struct{ batchSource }

func (s *drainSource) Drain(fn func([]Event)) error {
	for len(s.evs) > 0 {
		ev := s.evs[0]
		ev.Count = 1
		s.evs = s.evs[1:]
		fn([]Event{ev})
	}
	return s.err
}

func TestDrainBatches(t *testing.T) {
	evs := []Event{{Time: 1}, {Time: 2}, {Time: 3}}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name  string
		src   func(err error) Source
		count uint64 // Count of the events handed out
	}{
		{"Source", func(err error) Source { return &sliceSource{slices.Clone(evs), err} }, 0},
		{"BatchSource", func(err error) Source { return &batchSource{sliceSource{slices.Clone(evs), err}} }, 0},
		{"Drainer", func(err error) Source { return &drainSource{batchSource{sliceSource{slices.Clone(evs), err}}} }, 1},
	} {
		for _, err := range []error{nil, boom} {
			var got []Event
			gotErr := DrainBatches(tc.src(err), func(b []Event) { got = append(got, b...) })
			if gotErr != err {
				t.Errorf("%s: error %v, want %v", tc.name, gotErr, err)
			}
			if len(got) != len(evs) {
				t.Fatalf("%s: %d events, want %d", tc.name, len(got), len(evs))
			}
			for i := range got {
				if got[i].Time != evs[i].Time || got[i].Count != tc.count {
					t.Errorf("%s: event %d is %+v, want time %d count %d", tc.name, i, got[i], evs[i].Time, tc.count)
				}
			}
		}
	}
}

func TestAddCount(t *testing.T) {
	for _, tc := range []struct{ a, b, want uint64 }{{2, 3, 5}, {1<<64 - 2, 5, 1<<64 - 1}, {1<<64 - 1, 1<<64 - 1, 1<<64 - 1}, {0, 0, 0}} {
		if got := AddCount(tc.a, tc.b); got != tc.want {
			t.Errorf("AddCount(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
