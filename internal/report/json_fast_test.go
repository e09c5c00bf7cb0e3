package report

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// encodingJSON is the document as encoding/json writes it, the reference
// for appendJSON.
func encodingJSON(t *testing.T, d *Doc) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestAppendJSONIsEncodingJSON: the hand-written windows list gives the
// bytes encoding/json gives, for floats of every magnitude (the 'e'
// forms included), every kind, open windows, no windows and a verdict
// after them.
func TestAppendJSONIsEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	floats := []float64{0, 1, -1, 1437.000003, 0.006123457, 1e-7, 1.5e-9, 1e21, 3e22, 123456789.123456789, 5e-324, math.MaxFloat64, -2.5e-8, 0.1 + 0.2}
	for n := range 60 {
		d := &Doc{Schema: Schema, Rings: []JSONRing{{Name: "gfx"}}, Timeslice: JSONTimeslice{Windows: n}}
		for i := range n * 7 {
			f := func() float64 {
				if rng.IntN(3) == 0 {
					return floats[rng.IntN(len(floats))]
				}
				return rng.Float64() * math.Pow(10, float64(rng.IntN(30)-15))
			}
			d.Windows = append(d.Windows, JSONWindow{
				StartSeconds: f(), EndSeconds: f(), DurationSeconds: f(),
				Kind:     []string{"switched_out", "guest_idle", "stall", `odd "kind" <&>`}[rng.IntN(4)],
				InFlight: rng.IntN(100) - 3, Open: i%5 == 4,
			})
		}
		if n%2 == 1 {
			d.Verdict = &JSONVerdict{Expected: 0.5, Measured: 0.49, OK: true}
		}
		if n == 3 {
			d.Windows = []JSONWindow{} // empty, not nil: "[]" both ways
		}
		got, err := appendJSON(nil, d)
		if err != nil {
			t.Fatal(err)
		}
		if want := encodingJSON(t, d); !bytes.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Fatalf("doc %d differs at byte %d:\n got …%s…\nwant …%s…", n, i, got[max(0, i-80):min(len(got), i+80)], want[max(0, i-80):min(len(want), i+80)])
		}
	}
	// A value JSON cannot carry fails before anything is written.
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		var buf bytes.Buffer
		d := &Doc{Windows: []JSONWindow{{StartSeconds: 1}, {EndSeconds: bad}}}
		if err := writeJSON(&buf, d); err == nil || buf.Len() != 0 || !strings.HasPrefix(err.Error(), "encoding analysis: window 1: ") {
			t.Errorf("%v encoded: err %v, %d bytes written", bad, err, buf.Len())
		}
	}
}

// BenchmarkWriteJSON writes a document with the windows of a 1 GB trace
// (30k) to io.Discard.
func BenchmarkWriteJSON(b *testing.B) {
	d := &Doc{Schema: Schema, Rings: []JSONRing{{Name: "gfx"}}}
	for i := range 30000 {
		t := 1437.0 + float64(i)*0.0125
		d.Windows = append(d.Windows, JSONWindow{StartSeconds: t, EndSeconds: t + 0.006, DurationSeconds: 0.006001 + float64(i%100)*1e-6, Kind: "switched_out", InFlight: 2})
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := writeJSON(io.Discard, d); err != nil {
			b.Fatal(err)
		}
	}
}

// appendJSON appends d as WriteJSON writes it.
func appendJSON(b []byte, d *Doc) ([]byte, error) {
	buf := bytes.NewBuffer(b)
	err := writeJSON(buf, d)
	return buf.Bytes(), err
}
