package notifier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"
)

// attemptTimeout bounds one delivery attempt.
const attemptTimeout = 10 * time.Second

// ErrRefused is returned when the receiver answered with a final non-2xx status.
var ErrRefused = errors.New("the receiver refused the delivery")

// noRedirectClient is the HTTP client of every outgoing delivery: a redirect is an answer,
// never followed, so a receiver cannot point the gateway at another host.
func noRedirectClient() *http.Client {
	return &http.Client{
		Timeout:       attemptTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// send makes one attempt; retry tells whether another may succeed: after a 5xx, a timeout
// or a network error, not after a 2xx, 3xx or 4xx.
func send(client *http.Client, req *http.Request) (retry bool, err error) {
	resp, err := client.Do(req)
	if err != nil {
		return req.Context().Err() == nil, err
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

// retrying repeats attempt with jittered exponential backoff until it succeeds, says not
// to retry, or ctx ends (the request's expiry).
func retrying(ctx context.Context, first, most time.Duration, attempt func() (bool, error)) error {
	backoff := first
	for {
		retry, err := attempt()
		if err == nil || !retry {
			return err
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last attempt: %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
		backoff = min(backoff*2, most)
	}
}
