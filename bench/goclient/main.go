// Command goclient is the bench's plain-Go peer: the same requests as the
// scripts, from net/http with a fixed Authorization header, in a process of
// its own like the other peers.
//
//	goclient seq|conc URL N CONCURRENCY TOKEN
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: goclient seq|conc URL N CONCURRENCY TOKEN")
		os.Exit(2)
	}
	mode, url, token := os.Args[1], os.Args[2], os.Args[5]
	n, _ := strconv.Atoi(os.Args[3])
	c, _ := strconv.Atoi(os.Args[4])
	if mode == "seq" {
		c = 1
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	client := &http.Client{Transport: tr}
	call := func() error {
		req, _ := http.NewRequest("GET", url+"/data", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return err
	}
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failure error
	for range c {
		wg.Go(func() {
			for range jobs {
				if err := call(); err != nil {
					mu.Lock()
					failure = err
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if failure != nil {
		fmt.Fprintln(os.Stderr, failure)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]float64{"ms": float64(time.Since(start)) / float64(time.Millisecond)})
}
