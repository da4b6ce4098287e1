/*
 * libFuzzer target for the GVA text parser: any string is parsed or gets
 * an ARI_EGVA_* code; whatever parses prints back to text that parses to
 * the same address.
 */
#include <stdlib.h>
#include <string.h>

#include "core/gva.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[256];
    if (size >= sizeof text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    ari_gva_t gva, again;
    int status = ari_gva_parse(text, &gva);
    if (status != ARI_OK) {
        if (status > ARI_EGVA_PREFIX || status < ARI_EGVA_TRAILING)
            abort();
        return 0;
    }
    char printed[ARI_GVA_TEXT_MAX];
    if (ari_gva_parse(ari_gva_format(gva, printed), &again) != ARI_OK ||
        !gva_equal(gva, again))
        abort();
    return 0;
}
