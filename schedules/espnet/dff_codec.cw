# Deep Feature Flow on ESPNet by the codec's motion vectors: every level on a key frame
# every k = 5 frames; on the frames between, each level's features and scores are warped
# by the motion vectors the video's decoder exported (H.264 / MPEG-4), composed frame by
# frame; the decoder (the fuse) runs on every frame. Needs a coded video, or --codec h264.
network espnet input 360x480

stage s1 = level1 .. b1     head feat_l1    # 1/2: level1 + the image pooled to 1/2
stage s2 = level2_0 .. b2   head level3_C   # 1/4: down-sampler, 2 ESP blocks, image at 1/4
stage s3 = level3_0 .. b3   head score_l3   # 1/8: down-sampler, 8 ESP blocks, classifier

clock key = every 5

compute s1 when key else warp(flow=codec)
compute s2 when key else warp(flow=codec)
compute s3 when key else warp(flow=codec)

output fuse(s1, s2, s3)
