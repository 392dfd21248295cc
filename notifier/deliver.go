package notifier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/caddyciba/gateway/internal/backoff"
)

// AttemptTimeout bounds one delivery attempt, from dialling to the answer's last byte.
const AttemptTimeout = 10 * time.Second

// Limits of the transport shared by every outgoing HTTP delivery. The worker pool bounds
// how many attempts run at once; these bound what one slow or silent receiver can hold.
const (
	maxConnsPerHost     = 32
	maxIdleConnsPerHost = 8
	dialTimeout         = 5 * time.Second
	tlsHandshakeTimeout = 5 * time.Second
	responseTimeout     = 10 * time.Second
	idleConnTimeout     = 30 * time.Second
)

// ErrRefused is returned when the receiver answered with a final non-2xx status.
var ErrRefused = errors.New("the receiver refused the delivery")

// transport is shared by every webhook and callback, so connections to one host are
// pooled and counted together whatever the number of clients or channels.
var transport = &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
	ForceAttemptHTTP2:     true,
	MaxConnsPerHost:       maxConnsPerHost,
	MaxIdleConns:          4 * maxIdleConnsPerHost,
	MaxIdleConnsPerHost:   maxIdleConnsPerHost,
	IdleConnTimeout:       idleConnTimeout,
	TLSHandshakeTimeout:   tlsHandshakeTimeout,
	ResponseHeaderTimeout: responseTimeout,
}

// noRedirectClient is the HTTP client of every outgoing delivery: a redirect is an answer,
// never followed, so a receiver cannot point the gateway at another host.
func noRedirectClient() *http.Client {
	return &http.Client{
		Transport:     transport,
		Timeout:       AttemptTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// send makes one attempt; retry tells whether another may succeed: after a 5xx, a timeout
// or a network error, not after a 2xx, 3xx or 4xx.
func send(client *http.Client, req *http.Request) (retry bool, err error) {
	resp, err := client.Do(req)
	if err != nil {
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 500:
		return true, fmt.Errorf("the receiver answered %d", resp.StatusCode)
	default:
		return false, fmt.Errorf("%w: %d", ErrRefused, resp.StatusCode)
	}
}

// Attempter is a Channel that can make one attempt at a time, so a queue outside the
// channel keeps the retries (and their waits) instead of a goroutine.
type Attempter interface {
	Channel
	// Attempt makes one attempt; retry tells whether another may succeed.
	Attempt(ctx context.Context, n *Notification) (retry bool, err error)
	// Backoff is the wait after the given failed attempt (1 for the first).
	Backoff(attempt int) time.Duration
}

// retrying repeats attempt with jittered exponential backoff until it succeeds, says not
// to retry, or ctx ends (the request's expiry).
func retrying(ctx context.Context, first, most time.Duration, attempt func() (bool, error)) error {
	for n := 1; ; n++ {
		retry, err := attempt()
		if err == nil || !retry || ctx.Err() != nil {
			if err != nil && ctx.Err() != nil {
				return fmt.Errorf("%w (last attempt: %v)", ctx.Err(), err)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last attempt: %v)", ctx.Err(), err)
		case <-time.After(backoff.Wait(first, most, n)):
		}
	}
}
