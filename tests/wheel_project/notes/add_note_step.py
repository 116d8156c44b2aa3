from pydantic import BaseModel


class Body(BaseModel):
    id: str
    text: str


config = {
    "name": "AddNote",
    "triggers": [{"type": "http", "method": "POST", "path": "/notes", "bodySchema": Body}],
}


async def handler(request, ctx):
    note = {"id": request.body.id, "text": request.body.text}
    await ctx.streams.note.set("all", note["id"], note)
    return {"status": 201, "body": note}
