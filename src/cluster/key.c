/*
 * key — the cluster key file: parsing, loading with a permission check,
 * generating and saving.
 */
#include "key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ariadne.h"
#include "crypto.h"

#ifdef ARI_HAVE_SODIUM
#include <sodium.h>
_Static_assert(CLUSTER_KEY_BYTES == crypto_auth_KEYBYTES, "the key is an HMAC key as it is");
_Static_assert(CLUSTER_KEY_BYTES == crypto_kdf_KEYBYTES, "and a key to derive keys from");
#endif

#define KEY_HEX_DIGITS (2 * CLUSTER_KEY_BYTES)

static int key_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int cluster_key_parse(const char *text, size_t length, const char *file_name,
                      cluster_key_t *key_out, char *error, size_t error_size)
{
    size_t digits = length;
    if (digits > 0 && text[digits - 1] == '\n')
        digits--;
    if (digits > 0 && text[digits - 1] == '\r' && digits < length)
        digits--;
    if (digits != KEY_HEX_DIGITS) {
        snprintf(error, error_size,
                 "%s: a cluster key file holds %u hex digits and a newline "
                 "('ariadne keygen FILE' writes one), not %zu bytes",
                 file_name, KEY_HEX_DIGITS, length);
        return ARI_EINVAL;
    }
    cluster_key_t key;
    uint8_t any = 0;
    for (size_t i = 0; i < CLUSTER_KEY_BYTES; i++) {
        int high = key_hex_value(text[2 * i]), low = key_hex_value(text[2 * i + 1]);
        if (high < 0 || low < 0) {
            cluster_key_wipe(&key);
            snprintf(error, error_size,
                     "%s: byte %zu is not a hex digit (a cluster key is %u "
                     "hex digits)",
                     file_name, 2 * i + (high < 0 ? 1 : 2), KEY_HEX_DIGITS);
            return ARI_EINVAL;
        }
        key.bytes[i] = (uint8_t)(high << 4 | low);
        any |= key.bytes[i];
    }
    if (any == 0) {
        snprintf(error, error_size,
                 "%s: the key is all zeros; make a real one with "
                 "'ariadne keygen FILE'",
                 file_name);
        return ARI_EINVAL;
    }
    *key_out = key;
    cluster_key_wipe(&key);
    return ARI_OK;
}

/* A key readable by others is no secret: refused, as ssh refuses such keys. */
static int key_check_file(int fd, const char *path, char *error, size_t error_size)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(error, error_size, "cannot read %s: %s", path, strerror(errno));
        return ARI_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(error, error_size, "%s: not a regular file (a cluster key file is)", path);
        return ARI_EINVAL;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(error, error_size,
                 "%s: group or others may access it (mode %04o), so it is no "
                 "secret; run 'chmod 600 %s'",
                 path, (unsigned)(st.st_mode & 07777), path);
        return ARI_EPERM;
    }
    return ARI_OK;
}

int cluster_key_load(const char *path, cluster_key_t *key_out, char *error, size_t error_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(error, error_size, "cannot open %s: %s", path, strerror(errno));
        return ARI_EIO;
    }
    int status = key_check_file(fd, path, error, error_size);
    char text[CLUSTER_KEY_FILE_MAX + 1];
    size_t length = 0;
    while (status == ARI_OK && length < sizeof text) {
        ssize_t got = read(fd, text + length, sizeof text - length);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(error, error_size, "cannot read %s: %s", path, strerror(errno));
            status = ARI_EIO;
        }
        if (got <= 0)
            break;
        length += (size_t)got;
    }
    close(fd);
    if (status == ARI_OK)
        status = cluster_key_parse(text, length, path, key_out, error, error_size);
    explicit_bzero(text, sizeof text);
    return status;
}

int cluster_key_generate(cluster_key_t *key_out, char *error, size_t error_size)
{
    int status = cluster_crypto_init(error, error_size);
    if (status != ARI_OK)
        return status;
#ifdef ARI_HAVE_SODIUM
    crypto_kdf_keygen(key_out->bytes);
    return ARI_OK;
#else
    (void)key_out;
    return ARI_ENOTSUP; /* NEVER: cluster_crypto_init said so already */
#endif
}

static bool key_write_all(int fd, const char *text, size_t length)
{
    while (length > 0) {
        ssize_t put = write(fd, text, length);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return false;
        text += put;
        length -= (size_t)put;
    }
    return true;
}

int cluster_key_save(const char *path, const cluster_key_t *key, char *error, size_t error_size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        snprintf(error, error_size,
                 "%s: exists already (a key is never overwritten: remove it "
                 "first, or choose another name)",
                 path);
        return ARI_EIO;
    }
    if (fd < 0) {
        snprintf(error, error_size, "cannot create %s: %s", path, strerror(errno));
        return ARI_EIO;
    }
    static const char digits[] = "0123456789abcdef";
    char text[KEY_HEX_DIGITS + 1];
    for (size_t i = 0; i < CLUSTER_KEY_BYTES; i++) {
        text[2 * i] = digits[key->bytes[i] >> 4];
        text[2 * i + 1] = digits[key->bytes[i] & 15];
    }
    text[KEY_HEX_DIGITS] = '\n';
    bool written = key_write_all(fd, text, sizeof text) && fsync(fd) == 0;
    int saved = errno;
    explicit_bzero(text, sizeof text);
    if (close(fd) != 0 || !written) {
        snprintf(error, error_size, "cannot write %s: %s", path, strerror(written ? errno : saved));
        unlink(path);
        return ARI_EIO;
    }
    return ARI_OK;
}

void cluster_key_wipe(cluster_key_t *key)
{
    explicit_bzero(key, sizeof *key);
}
