package main

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"time"
)

// Bounds of watch's flags.
const (
	minInterval = 10 * time.Millisecond
	maxBufferKB = 1 << 20 // 1 GiB per CPU
	minSpeed    = 1e-3
	maxSpeed    = 1e6
)

// validate checks watch's flags; the error names the flag and what it
// must be.
func (o *watchOptions) validate() error {
	switch {
	case o.interval < minInterval:
		return fmt.Errorf("--interval %v: must be at least %v", o.interval, minInterval)
	case o.duration < 0:
		return fmt.Errorf("--duration %v: must not be negative (0: until interrupted)", o.duration)
	case math.IsNaN(o.speed) || o.speed < 0 || (o.speed != 0 && (o.speed < minSpeed || o.speed > maxSpeed)):
		return fmt.Errorf("--speed %g: must be 0 (as fast as possible) or between %g and %g", o.speed, minSpeed, maxSpeed)
	}
	if err := o.validateSource(); err != nil {
		return err
	}
	m, err := parsePushMethod(o.pushMethod)
	if err != nil {
		return err
	}
	o.pushMethod = m
	return nil
}

// validateSource checks the flags watch and run share (addSourceFlags).
func (o *watchOptions) validateSource() error {
	switch {
	case o.horizon <= 0:
		return fmt.Errorf("--horizon %v: must be positive", o.horizon)
	case o.bufferKB < 0 || o.bufferKB > maxBufferKB:
		return fmt.Errorf("--buffer-kb %d: must be between 0 (the kernel's default) and %d", o.bufferKB, maxBufferKB)
	case o.force && o.record == "":
		return errors.New("--force: only with --record")
	}
	switch o.source {
	case "auto", "ebpf", "tracefs":
	default:
		return fmt.Errorf("--source %q: expected ebpf, tracefs or auto", o.source)
	}
	return nil
}

// parsePushMethod checks --push-method: the HTTP method of pushes.
// VictoriaMetrics' /api/v1/import/prometheus takes POST (and GET);
// Pushgateway-style receivers take POST or PUT.
func parsePushMethod(m string) (string, error) {
	switch u := strings.ToUpper(m); u {
	case "POST", "PUT", "GET":
		return u, nil
	}
	return "", fmt.Errorf("--push-method %q: expected POST, PUT or GET", m)
}

// listenWarning is a warning for a metrics address other hosts can reach
// ("" for loopback). An empty host (":9464") listens on every interface.
func listenWarning(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "localhost" {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return ""
	}
	return fmt.Sprintf("metrics on %s are reachable from other hosts (no authentication); 127.0.0.1:PORT keeps them local", addr)
}
