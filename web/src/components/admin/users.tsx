import { useEffect, useState } from "react";
import { call, type ApiClient, type User } from "../../api/client";

/** Everyone an admin could pick (an owner, a member): none when the list is refused. */
export function useUsers(client: ApiClient): User[] {
  const [users, setUsers] = useState<User[]>([]);
  useEffect(() => {
    call(client.GET("/api/v1/users"))
      .then(setUsers)
      .catch(() => setUsers([]));
  }, [client]);
  return users;
}

/** A `<select>`'s choice of each of `users`, by id, named as people see them. */
export function UserOptions({ users }: { users: User[] }) {
  return users.map((user) => (
    <option key={user.id} value={user.id}>
      {user.display_name || user.name}
    </option>
  ));
}
