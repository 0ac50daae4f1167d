/*
 * tls_pem.c - PEM text -> BearSSL certificate chains, keys, trust anchors.
 *
 * Flow: pem_decode() runs br_pem_decoder over the whole text and collects
 * every object (name + DER bytes) in a list; the loaders then pick the
 * objects they want by name and decode their DER with br_x509_decoder
 * (certificates) or br_skey_decoder (keys). BearSSL's decoders point into
 * their own contexts, so everything kept is copied into memory owned by the
 * result. All allocation happens here, at context creation; nothing here
 * runs per connection.
 *
 * The one check that is easy to forget: the key must belong to the first
 * certificate. BearSSL would only notice at the first handshake (the peer
 * sees a bad signature), so tls_cred_load() derives the public key from the
 * private key (RSA modulus and exponent, EC point) and compares it with the
 * certificate's subjectPublicKeyInfo.
 */
#include "tls_pem.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pem_obj {
  char name[128];
  unsigned char *der;
  size_t len, cap;
};

struct pem_list {
  struct pem_obj *v;
  size_t n, cap;
  bool oom;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static void pem_list_free(struct pem_list *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i].der);
  free(l->v);
  memset(l, 0, sizeof *l);
}

/* br_pem_decoder destination: append decoded bytes to the current object. */
static void pem_append(void *ctx, const void *buf, size_t len) {
  struct pem_list *l = ctx;
  struct pem_obj *o = &l->v[l->n - 1];
  if (l->oom)
    return;
  if (o->len + len > o->cap) {
    size_t ncap = o->cap ? o->cap * 2 : 1024;
    while (ncap < o->len + len)
      ncap *= 2;
    unsigned char *nd = realloc(o->der, ncap);
    if (!nd) {
      l->oom = true;
      return;
    }
    o->der = nd;
    o->cap = ncap;
  }
  memcpy(o->der + o->len, buf, len);
  o->len += len;
}

/* Feed bytes; returns false on a PEM error. `inobj` tracks BEGIN/END. */
static bool pem_feed(br_pem_decoder_context *pc, struct pem_list *l, bool *inobj,
                     const unsigned char *p, size_t len) {
  while (len > 0) {
    size_t n = br_pem_decoder_push(pc, p, len);
    p += n;
    len -= n;
    switch (br_pem_decoder_event(pc)) {
    case BR_PEM_BEGIN_OBJ:
      if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 4;
        struct pem_obj *nv = realloc(l->v, ncap * sizeof *nv);
        if (!nv) {
          l->oom = true;
          return false;
        }
        l->v = nv;
        l->cap = ncap;
      }
      memset(&l->v[l->n], 0, sizeof l->v[l->n]);
      snprintf(l->v[l->n].name, sizeof l->v[l->n].name, "%s", br_pem_decoder_name(pc));
      l->n++;
      br_pem_decoder_setdest(pc, pem_append, l);
      *inobj = true;
      break;
    case BR_PEM_END_OBJ:
      *inobj = false;
      break;
    case BR_PEM_ERROR:
      return false;
    default:
      break; /* the decoder wants more bytes */
    }
  }
  return !l->oom;
}

/* Decode every object of `text`. 0, or -1 with `err` ("<what>: ..."). */
static int pem_decode(struct pem_list *l, const char *text, size_t len, const char *what, char *err,
                      size_t errlen) {
  br_pem_decoder_context pc;
  bool inobj = false;
  memset(l, 0, sizeof *l);
  if (!text || len == 0) {
    set_err(err, errlen, "%s: empty", what);
    return -1;
  }
  br_pem_decoder_init(&pc);
  /* The decoder only acts on a line once it sees its end: a final newline
   * makes a file without one work too. */
  if (!pem_feed(&pc, l, &inobj, (const unsigned char *)text, len) ||
      !pem_feed(&pc, l, &inobj, (const unsigned char *)"\n", 1)) {
    set_err(err, errlen, l->oom ? "%s: out of memory" : "%s: malformed PEM (bad base64 data)",
            what);
    pem_list_free(l);
    return -1;
  }
  if (inobj) {
    set_err(err, errlen, "%s: truncated PEM (no END line)", what);
    pem_list_free(l);
    return -1;
  }
  if (l->n == 0) {
    set_err(err, errlen, "%s: no PEM object found (not a PEM file?)", what);
    return -1;
  }
  return 0;
}

/* ---- X.509 certificates -------------------------------------------------- */

struct dn_buf {
  unsigned char *p;
  size_t len, cap;
  bool oom;
};

static void dn_append(void *ctx, const void *buf, size_t len) {
  struct dn_buf *d = ctx;
  if (d->oom)
    return;
  if (d->len + len > d->cap) {
    size_t ncap = (d->cap ? d->cap * 2 : 256) + len;
    unsigned char *np = realloc(d->p, ncap);
    if (!np) {
      d->oom = true;
      return;
    }
    d->p = np;
    d->cap = ncap;
  }
  memcpy(d->p + d->len, buf, len);
  d->len += len;
}

static unsigned char *dup_bytes(const void *p, size_t len) {
  unsigned char *q = malloc(len ? len : 1);
  if (q && len)
    memcpy(q, p, len);
  return q;
}

/* Deep copy of a public key (the decoder's points into its context). */
static int pkey_copy(br_x509_pkey *dst, const br_x509_pkey *src) {
  memset(dst, 0, sizeof *dst);
  dst->key_type = src->key_type;
  if (src->key_type == BR_KEYTYPE_RSA) {
    dst->key.rsa.n = dup_bytes(src->key.rsa.n, src->key.rsa.nlen);
    dst->key.rsa.e = dup_bytes(src->key.rsa.e, src->key.rsa.elen);
    dst->key.rsa.nlen = src->key.rsa.nlen;
    dst->key.rsa.elen = src->key.rsa.elen;
    return dst->key.rsa.n && dst->key.rsa.e ? 0 : -1;
  }
  dst->key.ec.curve = src->key.ec.curve;
  dst->key.ec.q = dup_bytes(src->key.ec.q, src->key.ec.qlen);
  dst->key.ec.qlen = src->key.ec.qlen;
  return dst->key.ec.q ? 0 : -1;
}

static void pkey_free(br_x509_pkey *k) {
  if (k->key_type == BR_KEYTYPE_RSA) {
    free(k->key.rsa.n);
    free(k->key.rsa.e);
  } else if (k->key_type == BR_KEYTYPE_EC) {
    free(k->key.ec.q);
  }
  memset(k, 0, sizeof *k);
}

/*
 * Decode one DER certificate: its public key (copied into *pk) and, when
 * `dn` is given, its subject DN; `is_ca` / `signer` optional. Returns 0 or
 * the BearSSL X.509 error code.
 */
static int cert_decode(const unsigned char *der, size_t len, br_x509_pkey *pk, struct dn_buf *dn,
                       bool *is_ca, int *signer) {
  br_x509_decoder_context dc;
  br_x509_decoder_init(&dc, dn ? dn_append : NULL, dn);
  br_x509_decoder_push(&dc, der, len);
  const br_x509_pkey *k = br_x509_decoder_get_pkey(&dc);
  int e = br_x509_decoder_last_error(&dc);
  if (!k || e != 0)
    return e ? e : BR_ERR_X509_TRUNCATED;
  if (dn && dn->oom)
    return BR_ERR_X509_LIMIT_EXCEEDED;
  if (is_ca)
    *is_ca = br_x509_decoder_isCA(&dc) != 0;
  if (signer)
    *signer = br_x509_decoder_get_signer_key_type(&dc);
  return pkey_copy(pk, k) == 0 ? 0 : BR_ERR_X509_LIMIT_EXCEEDED;
}

static const char *name_or(const char *name, const char *dflt) {
  return name && *name ? name : dflt;
}

/* ---- Private keys ------------------------------------------------------- */

static bool is_key_name(const char *n) {
  return strcmp(n, "PRIVATE KEY") == 0 || strcmp(n, "RSA PRIVATE KEY") == 0 ||
         strcmp(n, "EC PRIVATE KEY") == 0;
}

/* Copy the decoded key into one allocation owned by `c`. */
/* Copy one RSA key part into the next bytes of the key's own block and
 * point the credential at it; returns where the next part goes. */
static unsigned char *part_copy(unsigned char *m, const unsigned char *src, size_t len,
                                unsigned char **dst, size_t *dstlen) {
  memcpy(m, src, len);
  *dst = m;
  *dstlen = len;
  return m + len;
}

static int key_copy(struct tls_cred *c, const br_skey_decoder_context *kd) {
  c->key_type = br_skey_decoder_key_type(kd);
  if (c->key_type == BR_KEYTYPE_RSA) {
    const br_rsa_private_key *k = br_skey_decoder_get_rsa(kd);
    size_t tot = k->plen + k->qlen + k->dplen + k->dqlen + k->iqlen;
    unsigned char *m = malloc(tot);
    if (!m)
      return -1;
    c->key_mem = m;
    c->rsa.n_bitlen = k->n_bitlen;
    m = part_copy(m, k->p, k->plen, &c->rsa.p, &c->rsa.plen);
    m = part_copy(m, k->q, k->qlen, &c->rsa.q, &c->rsa.qlen);
    m = part_copy(m, k->dp, k->dplen, &c->rsa.dp, &c->rsa.dplen);
    m = part_copy(m, k->dq, k->dqlen, &c->rsa.dq, &c->rsa.dqlen);
    part_copy(m, k->iq, k->iqlen, &c->rsa.iq, &c->rsa.iqlen);
    return 0;
  }
  const br_ec_private_key *k = br_skey_decoder_get_ec(kd);
  c->key_mem = dup_bytes(k->x, k->xlen);
  if (!c->key_mem)
    return -1;
  c->ec.curve = k->curve;
  c->ec.x = c->key_mem;
  c->ec.xlen = k->xlen;
  return 0;
}

/* Big-endian integers compared after leading zeros are stripped. */
static bool int_eq(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen) {
  while (alen > 0 && *a == 0) {
    a++;
    alen--;
  }
  while (blen > 0 && *b == 0) {
    b++;
    blen--;
  }
  return alen == blen && memcmp(a, b, alen) == 0;
}

/* Does the private key in `c` belong to public key `pk`? */
static bool key_matches(const struct tls_cred *c, const br_x509_pkey *pk) {
  if (pk->key_type != c->key_type)
    return false;
  if (c->key_type == BR_KEYTYPE_RSA) {
    /* n = p * q is computed from the private primes, so an equal modulus
     * means the same key pair. (The public exponent is not compared:
     * br_rsa_compute_pubexp returns 0 for ordinary keys in BearSSL 0.6.) */
    br_rsa_compute_modulus cm = br_rsa_compute_modulus_get_default();
    size_t nlen = cm(NULL, &c->rsa);
    if (nlen == 0)
      return false;
    unsigned char *n = malloc(nlen);
    if (!n)
      return false;
    cm(n, &c->rsa);
    bool ok = int_eq(n, nlen, pk->key.rsa.n, pk->key.rsa.nlen);
    free(n);
    return ok;
  }
  unsigned char q[BR_EC_KBUF_PUB_MAX_SIZE];
  br_ec_public_key pub;
  if (pk->key.ec.curve != c->ec.curve)
    return false;
  size_t qlen = br_ec_compute_pub(br_ec_get_default(), &pub, q, &c->ec);
  return qlen != 0 && qlen == pk->key.ec.qlen && memcmp(q, pk->key.ec.q, qlen) == 0;
}

void tls_cred_free(struct tls_cred *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->chain_len; i++)
    free(c->chain[i].data);
  free(c->chain);
  if (c->key_mem) {
    /* Private key material: wipe before giving the memory back. */
    size_t len = c->key_type == BR_KEYTYPE_RSA
                     ? c->rsa.plen + c->rsa.qlen + c->rsa.dplen + c->rsa.dqlen + c->rsa.iqlen
                     : c->ec.xlen;
    memset(c->key_mem, 0, len);
    free(c->key_mem);
  }
  memset(c, 0, sizeof *c);
}

int tls_cred_load(struct tls_cred *c, const char *cert_pem, size_t cert_len, const char *key_pem,
                  size_t key_len, const char *cert_name, const char *key_name, char *err,
                  size_t errlen) {
  struct pem_list certs, keys;
  char what[300];
  memset(c, 0, sizeof *c);
  const char *cn = name_or(cert_name, "certificate");
  const char *kn = name_or(key_name, "private key");

  /* The chain. */
  if (pem_decode(&certs, cert_pem, cert_len, cn, err, errlen) != 0)
    return -1;
  size_t ncert = 0;
  for (size_t i = 0; i < certs.n; i++)
    if (strcmp(certs.v[i].name, "CERTIFICATE") == 0 ||
        strcmp(certs.v[i].name, "X509 CERTIFICATE") == 0)
      ncert++;
  if (ncert == 0) {
    set_err(err, errlen, "%s: no CERTIFICATE in the PEM (found \"%s\")", cn, certs.v[0].name);
    pem_list_free(&certs);
    return -1;
  }
  c->chain = calloc(ncert, sizeof *c->chain);
  if (!c->chain)
    goto oom;
  for (size_t i = 0; i < certs.n; i++) {
    struct pem_obj *o = &certs.v[i];
    if (strcmp(o->name, "CERTIFICATE") != 0 && strcmp(o->name, "X509 CERTIFICATE") != 0)
      continue;
    br_x509_pkey pk;
    int e = cert_decode(o->der, o->len, &pk, NULL, NULL,
                        c->chain_len == 0 ? &c->issuer_key_type : NULL);
    if (e != 0) {
      set_err(err, errlen, "%s: certificate %zu is malformed (%s)", cn, c->chain_len + 1,
              e == BR_ERR_X509_UNSUPPORTED ? "unsupported algorithm" : "bad DER encoding");
      goto fail;
    }
    pkey_free(&pk);
    /* Hand the DER over to the chain (no copy needed). */
    c->chain[c->chain_len].data = o->der;
    c->chain[c->chain_len].data_len = o->len;
    o->der = NULL;
    c->chain_len++;
  }

  /* The key. */
  if (pem_decode(&keys, key_pem, key_len, kn, err, errlen) != 0)
    goto fail;
  struct pem_obj *ko = NULL;
  for (size_t i = 0; i < keys.n && !ko; i++)
    if (is_key_name(keys.v[i].name))
      ko = &keys.v[i];
  if (!ko) {
    set_err(err, errlen, "%s: no PRIVATE KEY in the PEM (found \"%s\")", kn, keys.v[0].name);
    pem_list_free(&keys);
    goto fail;
  }
  br_skey_decoder_context kd;
  br_skey_decoder_init(&kd);
  br_skey_decoder_push(&kd, ko->der, ko->len);
  int ke = br_skey_decoder_last_error(&kd);
  if (ke != 0 || br_skey_decoder_key_type(&kd) == 0) {
    set_err(err, errlen, "%s: malformed or unsupported private key (BearSSL error %d)", kn, ke);
    pem_list_free(&keys);
    goto fail;
  }
  int rc = key_copy(c, &kd);
  memset(&kd, 0, sizeof kd);
  for (size_t i = 0; i < keys.n; i++)
    if (keys.v[i].der)
      memset(keys.v[i].der, 0, keys.v[i].len);
  pem_list_free(&keys);
  if (rc != 0)
    goto oom;

  /* The key must belong to the leaf certificate. */
  {
    br_x509_pkey pk;
    if (cert_decode(c->chain[0].data, c->chain[0].data_len, &pk, NULL, NULL, NULL) != 0)
      goto oom;
    bool ok = key_matches(c, &pk);
    int ctype = pk.key_type;
    pkey_free(&pk);
    if (!ok) {
      if (ctype != c->key_type)
        snprintf(what, sizeof what, "is an %s key but the certificate holds an %s key",
                 c->key_type == BR_KEYTYPE_RSA ? "RSA" : "EC",
                 ctype == BR_KEYTYPE_RSA ? "RSA" : "EC");
      else
        snprintf(what, sizeof what, "does not match the certificate's public key");
      set_err(err, errlen, "%s %s (%s)", kn, what, cn);
      goto fail;
    }
  }
  pem_list_free(&certs);
  return 0;

oom:
  set_err(err, errlen, "%s: out of memory", cn);
fail:
  pem_list_free(&certs);
  tls_cred_free(c);
  return -1;
}

/* ---- Trust anchors ------------------------------------------------------ */

void tls_anchors_free(br_x509_trust_anchor *tas, size_t n) {
  if (!tas)
    return;
  for (size_t i = 0; i < n; i++) {
    free(tas[i].dn.data);
    pkey_free(&tas[i].pkey);
  }
  free(tas);
}

int tls_anchors_load(br_x509_trust_anchor **tas, size_t *n, const char *pem, size_t len,
                     const char *name, char *err, size_t errlen) {
  struct pem_list l;
  const char *cn = name_or(name, "CA certificates");
  *tas = NULL;
  *n = 0;
  if (pem_decode(&l, pem, len, cn, err, errlen) != 0)
    return -1;
  br_x509_trust_anchor *v = calloc(l.n, sizeof *v);
  size_t k = 0;
  if (!v) {
    set_err(err, errlen, "%s: out of memory", cn);
    pem_list_free(&l);
    return -1;
  }
  for (size_t i = 0; i < l.n; i++) {
    if (strcmp(l.v[i].name, "CERTIFICATE") != 0 && strcmp(l.v[i].name, "X509 CERTIFICATE") != 0)
      continue;
    struct dn_buf dn = { 0 };
    bool is_ca = false;
    int e = cert_decode(l.v[i].der, l.v[i].len, &v[k].pkey, &dn, &is_ca, NULL);
    if (e != 0) {
      free(dn.p);
      set_err(err, errlen, "%s: certificate %zu is malformed", cn, k + 1);
      tls_anchors_free(v, k);
      pem_list_free(&l);
      return -1;
    }
    v[k].dn.data = dn.p;
    v[k].dn.len = dn.len;
    /* A CA anchor may sign chains; a non-CA anchor only matches itself
     * (a pinned self-signed server certificate). */
    v[k].flags = is_ca ? BR_X509_TA_CA : 0;
    k++;
  }
  pem_list_free(&l);
  if (k == 0) {
    set_err(err, errlen, "%s: no CERTIFICATE in the PEM", cn);
    free(v);
    return -1;
  }
  *tas = v;
  *n = k;
  return 0;
}
