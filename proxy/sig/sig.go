// Package sig makes and checks the Grip-Sig request header: the JWT with which
// pushpin-proxy tells an origin that a request came through it (reference
// §5.1), and with which an upstream Pushpin proves to us that its client is
// trusted (upstream_key).
//
// Keys are written as Pushpin 1.36 reads them (sig_key, upstream_key, route
// sig_key): a plain string is an HMAC secret, "base64:…" a base64-encoded
// secret, and "file:…" a file holding either a PEM key (EC → ES256, RSA →
// RS256, as 1.36 added) or, when the file is not PEM, a raw secret. Tokens
// carry exactly Pushpin's claims: {"iss": <issuer>, "exp": now+3600}.
//
// The invariant a reader must know: a Key is immutable once parsed and safe
// for concurrent use; signing never touches the file system.
package sig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenLifetime is how long a Grip-Sig token is valid; Pushpin uses one hour.
const TokenLifetime = time.Hour

// ErrEmptyKey is returned for an empty key spec: Pushpin then signs nothing.
var ErrEmptyKey = errors.New("empty key")

// Key is a signing or verification key.
type Key struct {
	method jwt.SigningMethod
	// sign is what jwt signs with: []byte for HMAC, a crypto.Signer otherwise.
	sign any
	// verify is what jwt verifies with: []byte or a public key. nil when the
	// key can only sign (never: a private key always yields its public key).
	verify any
}

// Secret returns an HS256 key for a raw secret.
func Secret(b []byte) *Key {
	k := append([]byte(nil), b...)
	return &Key{method: jwt.SigningMethodHS256, sign: k, verify: k}
}

// Parse reads a key spec as Pushpin writes it in pushpin.conf. dir anchors a
// relative "file:" path (the config file's folder, as Pushpin resolves it).
func Parse(spec, dir string) (*Key, error) {
	switch {
	case spec == "":
		return nil, ErrEmptyKey
	case strings.HasPrefix(spec, "base64:"):
		b, err := base64.StdEncoding.DecodeString(spec[len("base64:"):])
		if err != nil {
			return nil, fmt.Errorf("key %q: invalid base64: %w", spec, err)
		}
		return Secret(b), nil
	case strings.HasPrefix(spec, "file:"):
		p := spec[len("file:"):]
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("key file: %w", err)
		}
		return FromFileContent(data)
	default:
		return Secret([]byte(spec)), nil
	}
}

// FromFileContent interprets the content of a "file:" key: a PEM private or
// public key (EC or RSA), or else the raw bytes as an HMAC secret.
func FromFileContent(data []byte) (*Key, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return Secret(data), nil
	}
	switch {
	case strings.Contains(block.Type, "PRIVATE KEY"):
		priv, err := parsePrivate(block)
		if err != nil {
			return nil, err
		}
		return fromSigner(priv)
	case strings.Contains(block.Type, "PUBLIC KEY"):
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			if rk, err2 := x509.ParsePKCS1PublicKey(block.Bytes); err2 == nil {
				pub = rk
			} else {
				return nil, fmt.Errorf("parse public key: %w", err)
			}
		}
		return fromPublic(pub)
	}
	return nil, fmt.Errorf("unsupported PEM block %q", block.Type)
}

func parsePrivate(block *pem.Block) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", k)
		}
		return s, nil
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("cannot parse %q private key", block.Type)
}

func fromSigner(s crypto.Signer) (*Key, error) {
	k, err := fromPublic(s.Public())
	if err != nil {
		return nil, err
	}
	k.sign = s
	return k, nil
}

func fromPublic(pub crypto.PublicKey) (*Key, error) {
	switch pk := pub.(type) {
	case *ecdsa.PublicKey:
		var m jwt.SigningMethod
		switch pk.Curve.Params().BitSize {
		case 256:
			m = jwt.SigningMethodES256
		case 384:
			m = jwt.SigningMethodES384
		case 521:
			m = jwt.SigningMethodES512
		default:
			return nil, fmt.Errorf("unsupported EC curve %s", pk.Curve.Params().Name)
		}
		return &Key{method: m, verify: pk}, nil
	case *rsa.PublicKey:
		return &Key{method: jwt.SigningMethodRS256, verify: pk}, nil
	}
	return nil, fmt.Errorf("unsupported public key type %T", pub)
}

// Algorithm returns the JWT alg the key signs with ("HS256", "ES256", …).
func (k *Key) Algorithm() string { return k.method.Alg() }

// CanSign reports whether the key holds secret or private material.
func (k *Key) CanSign() bool { return k != nil && k.sign != nil }

// Sign returns a Grip-Sig token for iss, expiring TokenLifetime after now.
func (k *Key) Sign(iss string, now time.Time) (string, error) {
	if !k.CanSign() {
		return "", errors.New("key cannot sign (public key only)")
	}
	claims := jwt.MapClaims{"iss": iss, "exp": now.Add(TokenLifetime).Unix()}
	tok := jwt.NewWithClaims(k.method, claims)
	s, err := tok.SignedString(k.sign)
	if err != nil {
		return "", fmt.Errorf("sign grip-sig: %w", err)
	}
	return s, nil
}

// Valid reports whether token is a JWT signed with k that has not expired at
// now. Pushpin checks only the signature and exp for upstream_key; the
// issuer is not checked.
func (k *Key) Valid(token string, now time.Time) bool {
	if k == nil || k.verify == nil || token == "" {
		return false
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{k.method.Alg()}),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithExpirationRequired(),
	)
	_, err := p.Parse(token, func(*jwt.Token) (any, error) { return k.verify, nil })
	return err == nil
}
