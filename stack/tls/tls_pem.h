/*
 * tls_pem.h - certificates, keys and trust anchors from PEM text in memory.
 *
 * Reading the files is the caller's business (a system call: apps/ or
 * stack/platform); this code only turns bytes into BearSSL structures and
 * says, in one line, what is wrong when it cannot. Everything returned is a
 * deep copy owned by the returned structure (allocated here, at context
 * creation time, freed by the matching _free function).
 */
#ifndef USTACK_TLS_PEM_H
#define USTACK_TLS_PEM_H

#include <stddef.h>

#include <bearssl.h>

struct tls_cred {
  br_x509_certificate *chain; /* leaf first */
  size_t chain_len;
  int key_type;           /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
  br_rsa_private_key rsa; /* when key_type == BR_KEYTYPE_RSA */
  br_ec_private_key ec;   /* when key_type == BR_KEYTYPE_EC */
  unsigned char *key_mem; /* backing store of rsa/ec */
  int issuer_key_type;    /* key type of the leaf's signer */
};

/*
 * Load a chain and a private key and check that the key belongs to the
 * first certificate. Returns 0, or -1 with one line in `err`. `cert_name`
 * and `key_name` (may be NULL) name the sources in that line.
 */
int tls_cred_load(struct tls_cred *c, const char *cert_pem, size_t cert_len, const char *key_pem,
                  size_t key_len, const char *cert_name, const char *key_name, char *err,
                  size_t errlen);
void tls_cred_free(struct tls_cred *c);

/* Every CERTIFICATE in `pem` becomes a trust anchor. 0 or -1 + `err`. */
int tls_anchors_load(br_x509_trust_anchor **tas, size_t *n, const char *pem, size_t len,
                     const char *name, char *err, size_t errlen);
void tls_anchors_free(br_x509_trust_anchor *tas, size_t n);

#endif
