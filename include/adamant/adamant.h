// Everything of adamant's C++ API.
#ifndef ADAMANT_ADAMANT_H_
#define ADAMANT_ADAMANT_H_

#include "adamant/buffer.h"
#include "adamant/clip.h"
#include "adamant/atomic_file.h"
#include "adamant/checkpoint.h"
#include "adamant/dtype.h"
#include "adamant/factory.h"
#include "adamant/functional.h"
#include "adamant/nonfinite.h"
#include "adamant/option_text.h"
#include "adamant/optimizer.h"
#include "adamant/options.h"
#include "adamant/param.h"
#include "adamant/precision.h"
#include "adamant/schedule.h"
#include "adamant/state.h"
#include "adamant/state_layout.h"
#include "adamant/threads.h"

#endif  // ADAMANT_ADAMANT_H_
