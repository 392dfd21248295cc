package flow

import (
	"errors"
	"log"
	"sync"
	"sync/atomic"
)

// ConsentPool creates n consents awaiting authorisation, 32 at a time, before a measured
// phase (untimed).
func ConsentPool(t *TPP, cc string, n int) (chan string, error) {
	pool := make(chan string, n)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for len(pool) < n && failed.Load() == 0 {
				id, err := t.Consent(cc)
				if err != nil {
					failed.Add(1)
					log.Printf("consent pool: %v", err)
					return
				}
				select {
				case pool <- id:
				default:
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		return nil, errors.New("the consent pool could not be filled")
	}
	return pool, nil
}
