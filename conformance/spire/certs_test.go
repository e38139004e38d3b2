package spire

// Certificates for the x509pop conformance cases, made with Go's crypto/x509 (the library SPIRE
// verifies with) and, where Go refuses to create what a case needs (a BMPString name, a v1
// root, a duplicate extension, a non-minimal serial number), by editing the to-be-signed
// certificate's DER and signing it again.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	_ "crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// x5Cert is a certificate and, when the case has it, its private key.
type x5Cert struct {
	der  []byte
	cert *x509.Certificate
	key  crypto.Signer
}

var (
	x5KeyMu    sync.Mutex
	x5KeyCache = map[string]crypto.Signer{}
)

// x5NewKey makes a key of the given kind. RSA keys of one size are shared between cases
// (generating them is slow); the committed testdata holds the sizes over 4096 bits.
func x5NewKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	switch kind {
	case "p224":
		return x5Must(ecdsa.GenerateKey(elliptic.P224(), rand.Reader))
	case "p256":
		return x5Must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	case "p384":
		return x5Must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
	case "p521":
		return x5Must(ecdsa.GenerateKey(elliptic.P521(), rand.Reader))
	case "ed25519":
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	x5KeyMu.Lock()
	defer x5KeyMu.Unlock()
	if key, ok := x5KeyCache[kind]; ok {
		return key
	}
	var key crypto.Signer
	switch kind {
	case "rsa1024", "rsa2048", "rsa3072", "rsa4096":
		var bits int
		fmt.Sscanf(kind, "rsa%d", &bits)
		key = x5Must(rsa.GenerateKey(rand.Reader, bits))
	case "rsa8192", "rsa8200":
		key = x5LoadKey(t, filepath.Join("testdata", "x509pop", kind+".pem"))
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	x5KeyCache[kind] = key
	return key
}

func x5LoadKey(t testing.TB, path string) crypto.Signer {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return key.(crypto.Signer)
}

// x5Must returns v, or panics (failing the test) on err: for calls that cannot fail with the
// inputs the cases give them.
func x5Must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

var x5Serial = big.NewInt(1000)
var x5SerialMu sync.Mutex

func x5NextSerial() *big.Int {
	x5SerialMu.Lock()
	defer x5SerialMu.Unlock()
	x5Serial = new(big.Int).Add(x5Serial, big.NewInt(1))
	return new(big.Int).Set(x5Serial)
}

// x5CA returns a CA certificate template valid from an hour ago for a year.
func x5CA(name string) *x509.Certificate {
	now := time.Now()
	return &x509.Certificate{
		SerialNumber:          x5NextSerial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"fleet-attest conformance"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

// x5Leaf returns a leaf certificate template valid from an hour ago for a month.
func x5Leaf(name string) *x509.Certificate {
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: x5NextSerial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

// x5Issue signs tmpl for key with parent (self-signed when parent is nil).
func x5Issue(t testing.TB, tmpl *x509.Certificate, key crypto.Signer, parent *x5Cert) *x5Cert {
	t.Helper()
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	if err != nil {
		t.Fatalf("CreateCertificate %q: %v", tmpl.Subject.CommonName, err)
	}
	// A case may be about a certificate Go cannot parse back (cert is nil then).
	cert, _ := x509.ParseCertificate(der)
	return &x5Cert{der: der, cert: cert, key: key}
}

// x5Raw wraps DER that Go may refuse to parse (the case is about exactly that).
func x5Raw(der []byte, key crypto.Signer) *x5Cert {
	cert, _ := x509.ParseCertificate(der)
	return &x5Cert{der: der, cert: cert, key: key}
}

// x5Chain is a root, an intermediate under it and a P-256 leaf under that, the shape most
// cases start from.
type x5Chain struct {
	root, inter, leaf *x5Cert
}

func x5Standard(t testing.TB, leafTmpl *x509.Certificate) x5Chain {
	t.Helper()
	root := x5Issue(t, x5CA("conformance root"), x5NewKey(t, "p256"), nil)
	inter := x5Issue(t, x5CA("conformance intermediate"), x5NewKey(t, "p256"), root)
	if leafTmpl == nil {
		leafTmpl = x5Leaf("node-1")
	}
	leaf := x5Issue(t, leafTmpl, x5NewKey(t, "p256"), inter)
	return x5Chain{root: root, inter: inter, leaf: leaf}
}

// DER surgery: the certificate as three parts, the to-be-signed part editable.

type x5CertificateDER struct {
	TBS       asn1.RawValue
	SigAlg    asn1.RawValue
	Signature asn1.BitString
}

// x5Resign decodes der, lets edit change the TBSCertificate's elements (a list of raw
// elements: version, serial, signature, issuer, validity, subject, spki, extensions…), and
// signs the result with signer under the same signature algorithm.
func x5Resign(t testing.TB, der []byte, signer crypto.Signer, edit func(elems []asn1.RawValue) []asn1.RawValue) []byte {
	t.Helper()
	var cert x5CertificateDER
	if rest, err := asn1.Unmarshal(der, &cert); err != nil || len(rest) > 0 {
		t.Fatalf("x5Resign: %v", err)
	}
	var elems []asn1.RawValue
	rest := cert.TBS.Bytes
	for len(rest) > 0 {
		var elem asn1.RawValue
		var err error
		rest, err = asn1.Unmarshal(rest, &elem)
		if err != nil {
			t.Fatalf("x5Resign: TBS element: %v", err)
		}
		elems = append(elems, elem)
	}
	elems = edit(elems)
	var body []byte
	for _, e := range elems {
		body = append(body, e.FullBytes...)
	}
	tbs := x5Wrap(0x30, body)
	sig := x5Sign(t, signer, tbs)
	out := append([]byte{}, tbs...)
	out = append(out, cert.SigAlg.FullBytes...)
	bits := x5Must(asn1.Marshal(asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}))
	out = append(out, bits...)
	return x5Wrap(0x30, out)
}

// x5Sign signs tbs as CreateCertificate would for the key's default algorithm (SHA-256 for
// ECDSA P-256 and RSA PKCS #1 v1.5, SHA-384 for P-384, SHA-512 for P-521, pure Ed25519).
func x5Sign(t testing.TB, signer crypto.Signer, tbs []byte) []byte {
	t.Helper()
	var hash crypto.Hash
	switch key := signer.(type) {
	case *ecdsa.PrivateKey:
		switch key.Curve {
		case elliptic.P384():
			hash = crypto.SHA384
		case elliptic.P521():
			hash = crypto.SHA512
		default:
			hash = crypto.SHA256
		}
	case *rsa.PrivateKey:
		hash = crypto.SHA256
	case ed25519.PrivateKey:
		return x5Must(signer.Sign(rand.Reader, tbs, crypto.Hash(0)))
	}
	h := hash.New()
	h.Write(tbs)
	return x5Must(signer.Sign(rand.Reader, h.Sum(nil), hash))
}

// x5Wrap encodes a DER element with a short- or long-form length.
func x5Wrap(tag byte, body []byte) []byte {
	n := len(body)
	var out []byte
	switch {
	case n < 0x80:
		out = []byte{tag, byte(n)}
	case n < 0x100:
		out = []byte{tag, 0x81, byte(n)}
	case n < 0x10000:
		out = []byte{tag, 0x82, byte(n >> 8), byte(n)}
	default:
		out = []byte{tag, 0x83, byte(n >> 16), byte(n >> 8), byte(n)}
	}
	return append(out, body...)
}

func x5Elem(der []byte) asn1.RawValue {
	var v asn1.RawValue
	if _, err := asn1.Unmarshal(der, &v); err != nil {
		panic(err)
	}
	return v
}

// x5Name encodes a Name of one RDN per attribute, each value with the given string tag
// (asn1.TagUTF8String, TagPrintableString, TagBMPString=30, …) and raw bytes.
type x5Attr struct {
	oid   asn1.ObjectIdentifier
	tag   int
	value []byte
}

var x5OIDCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}
var x5OIDOrganization = asn1.ObjectIdentifier{2, 5, 4, 10}

func x5Name(attrs ...x5Attr) []byte {
	var rdns []byte
	for _, a := range attrs {
		oid, _ := asn1.Marshal(a.oid)
		value := x5Wrap(byte(a.tag), a.value)
		atv := x5Wrap(0x30, append(oid, value...))
		rdns = append(rdns, x5Wrap(0x31, atv)...)
	}
	return x5Wrap(0x30, rdns)
}

// x5BMP encodes s as UCS-2 big-endian, BMPString's content.
func x5BMP(s string) []byte {
	var out []byte
	for _, r := range s {
		out = append(out, byte(r>>8), byte(r))
	}
	return out
}

// x5Ext is a raw extension.
func x5Ext(oid asn1.ObjectIdentifier, critical bool, value []byte) []byte {
	ext := pkix.Extension{Id: oid, Critical: critical, Value: value}
	der, err := asn1.Marshal(ext)
	if err != nil {
		panic(err)
	}
	return der
}

// x5WithExtensions replaces the extensions element ([3] EXPLICIT SEQUENCE) with exts.
func x5WithExtensions(elems []asn1.RawValue, exts ...[]byte) []asn1.RawValue {
	var body []byte
	for _, e := range exts {
		body = append(body, e...)
	}
	wrapped := x5Elem(x5Wrap(0xa3, x5Wrap(0x30, body)))
	out := elems[:0:0]
	replaced := false
	for _, e := range elems {
		if e.Class == asn1.ClassContextSpecific && e.Tag == 3 {
			out = append(out, wrapped)
			replaced = true
			continue
		}
		out = append(out, e)
	}
	if !replaced {
		out = append(out, wrapped)
	}
	return out
}

// x5Extensions returns the raw extensions of a certificate made by Go.
func x5Extensions(cert *x509.Certificate) [][]byte {
	var out [][]byte
	for _, e := range cert.Extensions {
		out = append(out, x5Ext(e.Id, e.Critical, e.Value))
	}
	return out
}

func x5PEM(certs ...*x5Cert) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.der})...)
	}
	return out
}

func x5Digest(der []byte) string {
	sum := sha256.Sum256(der)
	return fmt.Sprintf("%x", sum[:8])
}

// x5ResignWithAlg signs the certificate again with signer under alg, written into both the
// to-be-signed part and the outer algorithm identifier.
func x5ResignWithAlg(t testing.TB, der []byte, signer crypto.Signer, alg x509.SignatureAlgorithm) []byte {
	t.Helper()
	oids := map[x509.SignatureAlgorithm]struct {
		oid  asn1.ObjectIdentifier
		hash crypto.Hash
		null bool
	}{
		x509.MD5WithRSA:    {asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}, crypto.MD5, true},
		x509.SHA1WithRSA:   {asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}, crypto.SHA1, true},
		x509.ECDSAWithSHA1: {asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}, crypto.SHA1, false},
	}
	spec, ok := oids[alg]
	if !ok {
		t.Fatalf("x5ResignWithAlg: %v", alg)
	}
	ai := pkix.AlgorithmIdentifier{Algorithm: spec.oid}
	if spec.null {
		ai.Parameters = asn1.NullRawValue
	}
	aiDER := x5Must(asn1.Marshal(ai))
	var cert x5CertificateDER
	if _, err := asn1.Unmarshal(der, &cert); err != nil {
		t.Fatal(err)
	}
	var elems []asn1.RawValue
	rest := cert.TBS.Bytes
	for len(rest) > 0 {
		var elem asn1.RawValue
		rest, _ = asn1.Unmarshal(rest, &elem)
		elems = append(elems, elem)
	}
	// The algorithm identifier is the first SEQUENCE after the version and serial.
	for i, e := range elems {
		if e.Class == asn1.ClassUniversal && e.Tag == asn1.TagSequence {
			elems[i] = x5Elem(aiDER)
			break
		}
	}
	var body []byte
	for _, e := range elems {
		body = append(body, e.FullBytes...)
	}
	tbs := x5Wrap(0x30, body)
	h := spec.hash.New()
	h.Write(tbs)
	sig := x5Must(signer.Sign(rand.Reader, h.Sum(nil), spec.hash))
	out := append(append([]byte{}, tbs...), aiDER...)
	out = append(out, x5Must(asn1.Marshal(asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}))...)
	return x5Wrap(0x30, out)
}
