// Package profile writes an analysis as a pprof profile (profile.proto)
// whose samples are GPU time, busy and stalled while switched out, located
// by ring → process → event kind, so `go tool pprof -top` and `-http` show
// where GPU time went and where it was lost.
package profile
