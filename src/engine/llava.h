/*
 * llava.h - LLaVA-1.5 prompt assembly, image splicing and the Yes/No verdict
 * read off the next-token logits (spec §6, §7).  Engine-internal; the public
 * declarations are in engine.h.
 */
#ifndef MMSAFE_ENGINE_LLAVA_H
#define MMSAFE_ENGINE_LLAVA_H
#include "engine.h"
#endif
