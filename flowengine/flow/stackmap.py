"""Cursor rules over an activeflow's stacks: find, next-after-current, push, pop (VoIPBIN's semantics)."""
from __future__ import annotations

import uuid
from collections.abc import Sequence

from flowengine.flow.activeflow import EMPTY_STACK_ID, MAIN_STACK_ID, Activeflow, Stack
from flowengine.flow.ids import EMPTY_ID, FINISH_ID, START_ID
from flowengine.flow.model import Action

MAX_DEPTH = 100
FINISH = Action(id=FINISH_ID, type="finish")


class CursorError(Exception):
    """An action id the cursor was sent to does not exist where it may be looked for."""


def find_action(af: Activeflow, start_stack_id: str, action_id: str) -> tuple[str, Action]:
    """Look in `start_stack_id`, then up its return chain (never into child stacks)."""
    if not action_id or action_id == EMPTY_ID:
        raise CursorError("no action id given")
    if action_id == FINISH_ID:
        return start_stack_id, FINISH
    stack_id = start_stack_id
    for _ in range(MAX_DEPTH):
        stack = af.stack_map.get(stack_id)
        if stack is None:
            break
        for action in stack.actions:
            if action.id == action_id:
                return stack_id, action
        stack_id = stack.return_stack_id
        if stack_id == EMPTY_STACK_ID:
            break
    raise CursorError(f"action id {action_id!r} is not in the current stack or the stacks it returns to")


def release_below(af: Activeflow, from_stack_id: str, target_stack_id: str) -> None:
    """Drop the stacks between `from_stack_id` (included) and its ancestor `target_stack_id`.

    Nothing is dropped when the target is not an ancestor (a jump into a freshly pushed stack)."""
    chain: list[str] = []
    stack_id = from_stack_id
    for _ in range(MAX_DEPTH):
        if stack_id == target_stack_id:
            break
        stack = af.stack_map.get(stack_id)
        if stack is None or stack_id == EMPTY_STACK_ID:
            return
        chain.append(stack_id)
        stack_id = stack.return_stack_id
    else:
        return
    for dropped in chain:
        if dropped != MAIN_STACK_ID:
            del af.stack_map[dropped]


def _index(stack: Stack, action_id: str) -> int | None:
    for i, action in enumerate(stack.actions):
        if action.id == action_id:
            return i
    return None


def next_after_current(af: Activeflow) -> tuple[str, Action]:
    """Where the cursor goes when nothing forwards it: `next_id`, the following action, or the
    action after the pusher once a pushed stack runs out (that stack is dropped). FINISH when
    nothing is left."""
    stack_id = af.current_stack_id
    stack = af.stack_map.get(stack_id)
    if stack is None:
        return stack_id, FINISH
    if af.current_action.id == START_ID:
        return (stack_id, stack.actions[0]) if stack.actions else (stack_id, FINISH)
    index = _index(stack, af.current_action.id)
    if index is None:
        return stack_id, FINISH
    next_id = stack.actions[index].next_id
    if next_id:
        try:
            target_stack, action = find_action(af, stack_id, next_id)
        except CursorError:
            return stack_id, FINISH
        release_below(af, stack_id, target_stack)
        return target_stack, action
    for _ in range(MAX_DEPTH):
        if index + 1 < len(stack.actions):
            return stack_id, stack.actions[index + 1]
        return_stack, return_action = stack.return_stack_id, stack.return_action_id
        if stack_id != MAIN_STACK_ID:
            del af.stack_map[stack_id]
        parent = af.stack_map.get(return_stack)
        if return_stack == EMPTY_STACK_ID or parent is None:
            return stack_id, FINISH
        found = _index(parent, return_action)
        if found is None:
            return return_stack, FINISH
        stack_id, stack, index = return_stack, parent, found
    return stack_id, FINISH


def push(af: Activeflow, actions: Sequence[Action], stack_id: str | None = None) -> Stack | None:
    """Push `actions` as a new stack that returns to the current action; they run next."""
    if not actions:
        return None
    stack = Stack(
        id=stack_id or str(uuid.uuid4()),
        actions=[a.model_copy(deep=True) for a in actions],
        return_stack_id=af.current_stack_id,
        return_action_id=af.current_action.id,
    )
    af.stack_map[stack.id] = stack
    af.set_forward(stack.id, stack.actions[0].id)
    return stack


def pop_service(af: Activeflow, stack_id: str) -> None:
    """End a pushed service stack (e.g. an AI call's): resume after the action that pushed it."""
    if stack_id != af.current_stack_id:
        raise CursorError(f"stack {stack_id!r} is not the current stack")
    stack = af.stack_map[stack_id]
    parent = af.stack_map.get(stack.return_stack_id)
    del af.stack_map[stack_id]
    if parent is None or _index(parent, stack.return_action_id) is None:
        af.set_forward(stack.return_stack_id, FINISH_ID)
        return
    saved_stack, saved_action = af.current_stack_id, af.current_action
    af.current_stack_id = parent.id
    af.current_action = parent.actions[_index(parent, stack.return_action_id) or 0]
    target_stack, action = next_after_current(af)
    af.current_stack_id, af.current_action = saved_stack, saved_action
    af.set_forward(target_stack, action.id)


def resolve_forward(af: Activeflow) -> tuple[str, Action]:
    """The forward target (searched from the forward stack upward); stacks left behind go."""
    target_stack, action = find_action(af, af.forward_stack_id, af.forward_action_id)
    release_below(af, af.current_stack_id, target_stack)
    return target_stack, action
