module github.com/gpuwatch/gpuwatch

go 1.26.0

require (
	github.com/VictoriaMetrics/metrics v1.44.0
	github.com/cilium/ebpf v0.22.0
	github.com/gdamore/tcell/v2 v2.13.10
	github.com/google/pprof v0.0.0-20261016150608-1facf8f91b50
	github.com/klauspost/compress v1.20.3
	github.com/rivo/tview v0.42.0
	golang.org/x/sys v0.49.0
	golang.org/x/term v0.37.0
	golang.org/x/tools v0.52.0
)

require (
	github.com/gdamore/encoding v1.0.1 // indirect
	github.com/lucasb-eyer/go-colorful v1.3.0 // indirect
	github.com/rivo/uniseg v0.4.7 // indirect
	github.com/valyala/fastrand v1.1.0 // indirect
	github.com/valyala/histogram v1.2.0 // indirect
	golang.org/x/text v0.31.0 // indirect
)

tool github.com/cilium/ebpf/cmd/bpf2go
