/* torchvision's transforms on an RGB8 image, in their order: Resize(size) (the shorter
 * side to size, PIL's antialiased bilinear), CenterCrop or RandomCrop, RandomHorizontal-
 * Flip, ToTensor (/ 255) and Normalize(mean, std), written as float32 (3, H, W). */
#ifndef LT_PLUGINS_DATA_IMAGE_FOLDER_TRANSFORM_H
#define LT_PLUGINS_DATA_IMAGE_FOLDER_TRANSFORM_H

#include "decode.h"

typedef struct img_transform {
    int resize;       /* shorter side after Resize (0: none) */
    int crop;         /* square crop side (0: none) */
    bool random_crop; /* RandomCrop instead of CenterCrop */
    bool hflip;       /* RandomHorizontalFlip(0.5) */
    float mean[3], std[3];
    int out_w, out_h; /* what every sample must come out as */
} img_transform;

/* The size Resize(size) gives a w x h image (torchvision: the longer side is
 * int(size * long / short)). */
void img_resized_size(int size, int w, int h, int *rw, int *rh);
/* Apply t to im (replaced by its resized copy when resizing) into out (3, out_h, out_w);
 * rng draws the crop and the flip. A size that does not come out as t's is an error
 * naming path and the flag that fixes it. */
lt_status img_apply(const img_transform *t, const char *path, img_rgb *im, lt_rng_t *rng,
                    float *out);

#endif
