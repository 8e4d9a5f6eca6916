#include "adamant/state.h"

#include <atomic>
#include <stdexcept>
#include <string>

namespace adamant {
namespace {

[[noreturn]] void ThrowNoBuffer(std::string_view name) {
  throw std::out_of_range("no state named '" + std::string(name) + "'");
}

}  // namespace

uint64_t StateBuffers::NewStamp() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

std::pmr::memory_resource* StateBuffers::Nodes() {
  // Never destroyed: states in static objects may outlive any other static.
  static auto* pool = new std::pmr::synchronized_pool_resource();
  return pool;
}

void StateBuffers::Touch() { stamp_ = NewStamp(); }

StateBuffers& StateBuffers::operator=(const StateBuffers& other) {
  map_ = other.map_;
  Touch();
  return *this;
}

StateBuffers& StateBuffers::operator=(StateBuffers&& other) noexcept {
  map_ = std::move(other.map_);
  Touch();
  other.Touch();
  return *this;
}

const Buffer& StateBuffers::at(std::string_view name) const {
  auto it = map_.find(name);
  if (it == map_.end()) ThrowNoBuffer(name);
  return it->second;
}

Buffer& StateBuffers::at(std::string_view name) {
  Touch();
  auto it = map_.find(name);
  if (it == map_.end()) ThrowNoBuffer(name);
  return it->second;
}

size_t StateBuffers::erase(std::string_view name) {
  Touch();
  auto it = map_.find(name);
  if (it == map_.end()) return 0;
  map_.erase(it);
  return 1;
}

Buffer& ParamState::at(std::string_view name) { return buffers.at(name); }
const Buffer& ParamState::at(std::string_view name) const { return buffers.at(name); }

}  // namespace adamant
