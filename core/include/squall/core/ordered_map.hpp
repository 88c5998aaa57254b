#pragma once

#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <map>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

/// The object type of Squall's `Json` (model.hpp): a map that keeps keys in insertion order, as Python's dict
/// does, so that payloads, YAML files, parameters and results keep the order they were written in
/// (docs/decisions.md, "Insertion-ordered JSON objects").
///
/// It is written for `nlohmann::basic_json<OrderedMap>` (the members basic_json 3.11 calls: emplace,
/// operator[], at, find, count, erase by key, iterator or range, insert, a transparent `key_compare`) and
/// differs from nlohmann's own `ordered_map` in the two ways Squall needs:
///  - operator== compares as sets, as Python's dict does: same size, and every key of one is in the other
///    with an equal value, whatever the order. operator<=> is the order of the sorted (key, value) lists
///    (what std::map gave), so it agrees with ==.
///  - lookups are not linear past kIndexThreshold keys: a sorted index (key → position) is built then, so
///    parsing an object of n keys costs O(n log n), never O(n²). The index is a tree and not a hash table on
///    purpose: its worst case does not depend on the keys a sender chose.
///
/// Elements live in their own allocations (as std::map's nodes do) and the vector holds pointers to them:
/// growing the vector never copies a key or a value, and the index can hold views of the keys.
/// Invariants: keys are unique; `index_` is null or maps every key to its element's position in `items_`.
/// Assigning an existing key keeps its position; erasing then adding a key again appends it.
namespace squall::core {

template <
    class Key,
    class T,
    class IgnoredLess = std::less<Key>,
    class Allocator = std::allocator<std::pair<const Key, T>>>
class OrderedMap {
public:
    using key_type = Key;
    using mapped_type = T;
    using value_type = std::pair<const Key, T>;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;
    using reference = value_type&;
    using const_reference = const value_type&;
    using pointer = value_type*;
    using const_pointer = const value_type*;
    using allocator_type = Allocator;
    /// Transparent, so basic_json looks keys up by std::string_view or const char* without a copy.
    using key_compare = std::equal_to<>;

    /// Up to this many keys a lookup scans the elements (fastest for small objects); past it, the index.
    static constexpr size_type kIndexThreshold = 16;

private:
    /// An element and a digest of its key: a scan compares digests and reads an element only when they agree.
    struct Slot {
        std::uint64_t tag;
        std::unique_ptr<value_type> node;
        value_type& operator*() const { return *node; }
        value_type* operator->() const { return node.get(); }
    };
    using Items = std::vector<Slot>;
    using Index = std::map<std::string_view, size_type, std::less<>>;

    template <bool Const>
    class Iter {
        using Base = std::conditional_t<Const, typename Items::const_iterator, typename Items::iterator>;

    public:
        using iterator_category = std::random_access_iterator_tag;
        using value_type = OrderedMap::value_type;
        using difference_type = std::ptrdiff_t;
        using pointer = std::conditional_t<Const, const value_type*, value_type*>;
        using reference = std::conditional_t<Const, const value_type&, value_type&>;

        Iter() = default;
        explicit Iter(Base it) : it_(it) {}
        template <bool C = Const, std::enable_if_t<C, int> = 0>
        Iter(const Iter<false>& other) : it_(other.base()) {}  // NOLINT: iterator → const_iterator

        reference operator*() const { return **it_; }
        pointer operator->() const { return it_->node.get(); }
        reference operator[](difference_type n) const { return *it_[n]; }
        Iter& operator++() {
            ++it_;
            return *this;
        }
        Iter operator++(int) {
            Iter t = *this;
            ++it_;
            return t;
        }
        Iter& operator--() {
            --it_;
            return *this;
        }
        Iter operator--(int) {
            Iter t = *this;
            --it_;
            return t;
        }
        Iter& operator+=(difference_type n) {
            it_ += n;
            return *this;
        }
        Iter& operator-=(difference_type n) {
            it_ -= n;
            return *this;
        }
        friend Iter operator+(Iter a, difference_type n) { return a += n; }
        friend Iter operator+(difference_type n, Iter a) { return a += n; }
        friend Iter operator-(Iter a, difference_type n) { return a -= n; }
        friend difference_type operator-(const Iter& a, const Iter& b) { return a.it_ - b.it_; }
        friend bool operator==(const Iter& a, const Iter& b) { return a.it_ == b.it_; }
        friend auto operator<=>(const Iter& a, const Iter& b) { return a.it_ <=> b.it_; }
        const Base& base() const { return it_; }

    private:
        Base it_{};
    };

public:
    using iterator = Iter<false>;
    using const_iterator = Iter<true>;

    OrderedMap() = default;
    explicit OrderedMap(const Allocator&) {}
    template <
        class It,
        class = std::enable_if_t<
            std::is_convertible_v<typename std::iterator_traits<It>::iterator_category, std::input_iterator_tag>>>
    OrderedMap(It first, It last, const Allocator& = Allocator()) {
        insert(first, last);
    }
    OrderedMap(std::initializer_list<value_type> init, const Allocator& = Allocator()) {
        insert(init.begin(), init.end());
    }
    OrderedMap(const OrderedMap& other) {
        items_.reserve(other.items_.size());
        for (const auto& slot : other.items_) items_.push_back({slot.tag, std::make_unique<value_type>(*slot)});
        if (other.index_) BuildIndex();
    }
    OrderedMap(OrderedMap&&) noexcept = default;
    OrderedMap& operator=(const OrderedMap& other) {
        if (this != &other) {
            OrderedMap copy(other);
            *this = std::move(copy);
        }
        return *this;
    }
    OrderedMap& operator=(OrderedMap&&) noexcept = default;
    ~OrderedMap() = default;

    // Iteration, in insertion order.
    iterator begin() noexcept { return iterator(items_.begin()); }
    iterator end() noexcept { return iterator(items_.end()); }
    const_iterator begin() const noexcept { return const_iterator(items_.begin()); }
    const_iterator end() const noexcept { return const_iterator(items_.end()); }
    const_iterator cbegin() const noexcept { return begin(); }
    const_iterator cend() const noexcept { return end(); }

    size_type size() const noexcept { return items_.size(); }
    bool empty() const noexcept { return items_.empty(); }
    size_type max_size() const noexcept { return items_.max_size(); }
    void clear() noexcept {
        items_.clear();
        index_.reset();
    }
    void reserve(size_type n) { items_.reserve(n); }

    // Lookup. Any key comparable with std::string_view (std::string, string_view, const char*).
    template <class K>
    iterator find(const K& key) {
        return begin() + static_cast<difference_type>(Position(key));
    }
    template <class K>
    const_iterator find(const K& key) const {
        return begin() + static_cast<difference_type>(Position(key));
    }
    template <class K>
    size_type count(const K& key) const {
        return Position(key) == items_.size() ? 0 : 1;
    }
    template <class K>
    bool contains(const K& key) const {
        return count(key) != 0;
    }
    template <class K>
    T& at(const K& key) {
        const size_type pos = Position(key);
        if (pos == items_.size()) throw std::out_of_range("key not found");
        return items_[pos]->second;
    }
    template <class K>
    const T& at(const K& key) const {
        const size_type pos = Position(key);
        if (pos == items_.size()) throw std::out_of_range("key not found");
        return items_[pos]->second;
    }
    /// Inserts a null (default) value at the end when the key is absent, as std::map does.
    template <class K>
    T& operator[](K&& key) {
        return emplace(std::forward<K>(key), T{}).first->second;
    }
    template <class K>
    const T& operator[](const K& key) const {
        return at(key);
    }

    // Insertion: a new key goes at the end; an existing key is left alone (and keeps its position).
    template <class K, class... Args>
    std::pair<iterator, bool> emplace(K&& key, Args&&... args) {
        const std::string_view view(key);
        if (!index_) {
            const std::uint64_t tag = Tag(view);
            for (size_type i = 0; i < items_.size(); ++i) {
                if (items_[i].tag == tag && std::string_view(items_[i]->first) == view)
                    return {begin() + static_cast<difference_type>(i), false};
            }
            Append(std::forward<K>(key), std::forward<Args>(args)...);
            if (items_.size() > kIndexThreshold) BuildIndex();
            return {std::prev(end()), true};
        }
        auto hint = index_->lower_bound(view);
        if (hint != index_->end() && hint->first == view) {
            return {begin() + static_cast<difference_type>(hint->second), false};
        }
        Append(std::forward<K>(key), std::forward<Args>(args)...);
        try {
            index_->emplace_hint(hint, std::string_view(items_.back()->first), items_.size() - 1);
        } catch (...) {
            items_.pop_back();
            throw;
        }
        return {std::prev(end()), true};
    }
    std::pair<iterator, bool> insert(const value_type& value) { return emplace(value.first, value.second); }
    std::pair<iterator, bool> insert(value_type&& value) { return emplace(value.first, std::move(value.second)); }
    /// The hint is ignored: a new key always goes at the end (for std::inserter).
    iterator insert(const_iterator /*hint*/, const value_type& value) { return insert(value).first; }
    iterator insert(const_iterator /*hint*/, value_type&& value) { return insert(std::move(value)).first; }
    template <
        class It,
        class = std::enable_if_t<
            std::is_convertible_v<typename std::iterator_traits<It>::iterator_category, std::input_iterator_tag>>>
    void insert(It first, It last) {
        for (; first != last; ++first) {
            const auto& element = *first;
            emplace(element.first, element.second);
        }
    }

    // Erasure: O(n) (the later elements move up one place and their positions are renumbered).
    template <class K, std::enable_if_t<!std::is_convertible_v<const K&, const_iterator>, int> = 0>
    size_type erase(const K& key) {
        const size_type pos = Position(key);
        if (pos == items_.size()) return 0;
        EraseRange(pos, pos + 1);
        return 1;
    }
    iterator erase(iterator pos) { return erase(const_iterator(pos)); }
    iterator erase(const_iterator pos) { return erase(pos, std::next(pos)); }
    iterator erase(iterator first, iterator last) { return erase(const_iterator(first), const_iterator(last)); }
    iterator erase(const_iterator first, const_iterator last) {
        const auto from = static_cast<size_type>(first - cbegin());
        const auto to = static_cast<size_type>(last - cbegin());
        EraseRange(from, to);
        return begin() + static_cast<difference_type>(from);
    }

    /// Python's dict equality: same keys with equal values, in any order.
    friend bool operator==(const OrderedMap& a, const OrderedMap& b) {
        if (a.size() != b.size()) return false;
        for (size_type i = 0; i < a.items_.size(); ++i) {
            const value_type& x = *a.items_[i];
            const value_type& same_place = *b.items_[i];
            if (a.items_[i].tag == b.items_[i].tag &&
                same_place.first == x.first) {  // the common case: same order, no lookup
                if (!(same_place.second == x.second)) return false;
                continue;
            }
            const size_type pos = b.Position(x.first);
            if (pos == b.items_.size() || !(b.items_[pos]->second == x.second)) return false;
        }
        return true;
    }
    /// The order of the sorted (key, value) lists: what std::map's comparison gave, consistent with ==.
    friend auto operator<=>(const OrderedMap& a, const OrderedMap& b) {
        const auto sa = a.SortedView();
        const auto sb = b.SortedView();
        using Ordering = std::compare_three_way_result_t<T>;
        const size_type n = std::min(sa.size(), sb.size());
        for (size_type i = 0; i < n; ++i) {
            if (auto c = sa[i]->first <=> sb[i]->first; c != 0) return Ordering(c);
            if (auto c = sa[i]->second <=> sb[i]->second; c != 0) return Ordering(c);
        }
        return Ordering(sa.size() <=> sb.size());
    }

private:
    template <class K, class... Args>
    void Append(K&& key, Args&&... args) {
        auto node = std::make_unique<value_type>(
            std::piecewise_construct,
            std::forward_as_tuple(std::forward<K>(key)),
            std::forward_as_tuple(std::forward<Args>(args)...)
        );
        const std::uint64_t tag = Tag(node->first);
        items_.push_back({tag, std::move(node)});
    }

    /// FNV-1a of the key and its length: cheap, and enough to tell most keys of a small object apart.
    static std::uint64_t Tag(std::string_view key) noexcept {
        std::uint64_t h = 14695981039346656037ull ^ key.size();
        for (const char c : key) {
            h ^= static_cast<unsigned char>(c);
            h *= 1099511628211ull;
        }
        return h;
    }

    /// The element's position, or size() when absent.
    template <class K>
    size_type Position(const K& key) const {
        const std::string_view view(key);
        if (!index_) {
            const std::uint64_t tag = Tag(view);
            for (size_type i = 0; i < items_.size(); ++i) {
                if (items_[i].tag == tag && std::string_view(items_[i]->first) == view) return i;
            }
            return items_.size();
        }
        const auto it = index_->find(view);
        return it == index_->end() ? items_.size() : it->second;
    }

    void BuildIndex() {
        auto index = std::make_unique<Index>();
        for (size_type i = 0; i < items_.size(); ++i) index->emplace(std::string_view(items_[i]->first), i);
        index_ = std::move(index);
    }

    void EraseRange(size_type from, size_type to) {
        if (from >= to) return;
        if (index_) {
            for (size_type i = from; i < to; ++i) index_->erase(std::string_view(items_[i]->first));
            const size_type removed = to - from;
            for (auto& [k, pos] : *index_) {
                if (pos >= to) pos -= removed;
            }
        }
        items_.erase(
            items_.begin() + static_cast<difference_type>(from), items_.begin() + static_cast<difference_type>(to)
        );
        if (index_ && items_.size() <= kIndexThreshold / 2) index_.reset();
    }

    std::vector<const value_type*> SortedView() const {
        std::vector<const value_type*> v;
        v.reserve(items_.size());
        for (const auto& slot : items_) v.push_back(slot.node.get());
        std::sort(v.begin(), v.end(), [](const value_type* x, const value_type* y) { return x->first < y->first; });
        return v;
    }

    Items items_;
    std::unique_ptr<Index> index_;
};

}  // namespace squall::core
