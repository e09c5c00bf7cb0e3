package bpf

import (
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
)

// TestSpec checks the committed object parses and has the shape the
// loader (internal/ebpfsrc) relies on; it needs no kernel support.
func TestSpec(t *testing.T) {
	spec, err := LoadGpuwatch()
	if err != nil {
		t.Fatal(err)
	}
	p := spec.Programs[GpuwatchProgGpuwatchTp]
	if p == nil || p.Type != ebpf.TracePoint {
		t.Fatalf("program %s: %+v, want a tracepoint program", GpuwatchProgGpuwatchTp, p)
	}
	want := map[string]ebpf.MapType{
		GpuwatchMapConfigs: ebpf.Array,
		GpuwatchMapEvents:  ebpf.RingBuf,
		GpuwatchMapLost:    ebpf.PerCPUArray,
		GpuwatchMapRings:   ebpf.Hash,
		GpuwatchMapJobs:    ebpf.LRUHash,
	}
	for name, typ := range want {
		m := spec.Maps[name]
		if m == nil || m.Type != typ {
			t.Errorf("map %s: %+v, want type %v", name, m, typ)
		}
	}
	if got := spec.Maps[GpuwatchMapConfigs].ValueSize; got != uint32(unsafe.Sizeof(GpuwatchEvcfg{})) {
		t.Errorf("configs value size %d, Go type %d", got, unsafe.Sizeof(GpuwatchEvcfg{}))
	}
	if got := spec.Maps[GpuwatchMapRings].ValueSize; got != uint32(unsafe.Sizeof(GpuwatchRingstate{})) {
		t.Errorf("rings value size %d, Go type %d", got, unsafe.Sizeof(GpuwatchRingstate{}))
	}
}
