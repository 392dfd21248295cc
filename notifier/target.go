// Package notifier delivers authentication requests to the user's device through
// channels (webhook, smtp, log) behind one interface.
package notifier

import (
	"net"
	"net/url"
	"strings"
)

// AllowedTarget tells whether the gateway may send to u: HTTPS anywhere, plain HTTP only
// to a loopback host (local development and tests).
func AllowedTarget(u *url.URL) bool {
	if u == nil || u.Host == "" || u.User != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		return IsLoopback(u.Hostname())
	}
	return false
}

// IsLoopback tells whether host is localhost or a loopback address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
